import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { categoryOf, costBreakdown } from '../../bench/profile.ts';

const root = new URL('../../', import.meta.url).href;
const frame = (functionName: string, url: string) => ({ functionName, url });
const nm = (path: string) => `${root}node_modules/${path}`;
const src = (path: string) => `${root}src/${path}`;

describe('CPU profile attribution (npm run bench:cost)', () => {
  it('gives a socket write to the library that asked for it', () => {
    const write = frame('writeBuffer', '');
    const net = frame('_writeGeneric', 'node:net');
    assert.equal(categoryOf([write, net, frame('sendRequest', nm('kafkajs/src/network/connection.js'))]), 'Kafka (encode, send)');
    assert.equal(categoryOf([write, net, frame('sendCommand', nm('ioredis/built/Redis.js'))]), 'Redis');
    // Fastify answering: the write is HTTP work, not routing.
    assert.equal(categoryOf([write, net, frame('onSendEnd', nm('fastify/lib/reply.js'))]), 'sockets & HTTP (Node)');
    assert.equal(categoryOf([frame('parserOnHeadersComplete', 'node:_http_common')]), 'sockets & HTTP (Node)');
  });

  it('takes the innermost part named, so the project code calling a library does not hide it', () => {
    const stack = [
      frame('crc32C', nm('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js')),
      frame('publish', src('issuance/producer.ts')),
      frame('admit', src('admission/admitter.ts')),
      frame('onMessage', nm('piscina/dist/worker.js')),
    ];
    assert.equal(categoryOf(stack), 'Kafka (encode, send)');
    assert.equal(categoryOf(stack.slice(2)), 'admission logic');
    assert.equal(categoryOf(stack.slice(3)), 'thread hop (Piscina)');
    assert.equal(categoryOf([frame('observe', nm('prom-client/lib/histogram.js')), ...stack.slice(2)]), 'metrics');
    assert.equal(categoryOf([frame('counts', src('overload/rate-limiter.ts'))]), 'rate limiting');
    assert.equal(categoryOf([frame('take', src('overload/arrival-queue.ts'))]), 'overload control');
  });

  it('names V8 pseudo-frames and leaves idle time out', () => {
    assert.equal(categoryOf([frame('(garbage collector)', '')]), 'GC');
    assert.equal(categoryOf([frame('(program)', '')]), 'V8 & native, unattributed');
    assert.equal(categoryOf([frame('(idle)', '')]), null);
    assert.equal(categoryOf([frame('runMicrotasks', '')]), 'other (Node, V8 builtins)');
  });

  it('counts only the samples inside the window, each for the time to the next sample', () => {
    const dir = mkdtempSync(join(tmpdir(), 'profile-test-'));
    const file = join(dir, 'CPU.20260101.000000.4242.3.001.cpuprofile');
    const profile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: 0, columnNumber: 0 }, children: [2, 3] },
        { id: 2, callFrame: { functionName: 'sendCommand', url: nm('ioredis/built/Redis.js'), lineNumber: 0, columnNumber: 0 } },
        { id: 3, callFrame: { functionName: '(idle)', url: '', lineNumber: 0, columnNumber: 0 } },
      ],
      startTime: 1_000,
      endTime: 2_000,
      // Samples at 1,100 (Redis), 1,200 (Redis), 1,500 (idle), 1,600 (Redis), 1,650.
      samples: [2, 2, 3, 2, 3],
      timeDeltas: [100, 100, 300, 100, 50],
    };
    writeFileSync(file, JSON.stringify(profile));
    const all = costBreakdown(file);
    assert.equal(all.threadId, 3);
    // Redis: 100 (1,100 → 1,200) + 300 (1,200 → 1,500) + 50 (1,600 → 1,650) µs.
    assert.equal(all.byCategory.get('Redis'), 0.45);
    assert.equal(all.busyMs, 0.45);
    const window = costBreakdown(file, 1_150, 1_700);
    assert.equal(window.byCategory.get('Redis'), 0.35);
    assert.deepEqual([...window.byFrame.get('Redis')!.keys()], ['sendCommand node_modules/ioredis/built/Redis.js:1']);
  });
});
