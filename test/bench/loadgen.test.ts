import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { attack, tally } from '../../bench/load.ts';

/**
 * The benchmarks' Go generator reads responses with a parser of its own (bench/loadgen/main.go),
 * not net/http: it must read every framing a server may use, keep its connections in step, and
 * report each answer's status and code.
 */
describe('bench/loadgen', () => {
  let server: Server;
  let base: string;
  let connections = 0;
  /** Paths asked under /retry/, in order; each is refused the first time. */
  const retried: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? '';
      if (path.startsWith('/length')) {
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"ACCEPTED","requestId":"1"}');
      } else if (path.startsWith('/chunked')) {
        // No Content-Length: Node sends the body in chunks.
        res.writeHead(409, { 'content-type': 'application/json' });
        res.write('{"code":"SOLD');
        setImmediate(() => res.end('_OUT","message":"x"}'));
      } else if (path.startsWith('/close')) {
        res.writeHead(503, { connection: 'close', 'retry-after': '1' }).end('{"code":"UNAVAILABLE","message":"later"}');
      } else if (path.startsWith('/retry/')) {
        const first = !retried.includes(path);
        retried.push(path);
        if (first) res.writeHead(503, { 'retry-after': '1' }).end('{"code":"UNAVAILABLE","message":"later"}');
        else res.writeHead(202).end('{"status":"ACCEPTED","requestId":"2"}');
      } else if (path.startsWith('/empty')) {
        res.writeHead(204).end();
      } else {
        res.writeHead(200).end('ok');
      }
    });
    server.on('connection', () => connections++);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('reads Content-Length and chunked bodies, and redials after Connection: close', async () => {
    const paths = ['/length', '/chunked', '/close', '/empty'];
    const before = connections;
    // One connection, so requests go in order: every third of four is closed by the server, and each
    // is followed by another request, which must dial again.
    const { answers } = await attack('loadgen-test', base, paths, { rate: 0, seconds: 60, conns: 1, requests: 40 }, '0-1');
    assert.equal(answers.length, 40);
    assert.deepEqual(tally(answers), { '202 ACCEPTED': 10, '409 SOLD_OUT': 10, '503 UNAVAILABLE': 10, '204': 10 });
    // The primed connection, then one more after each of the ten that the server closed.
    assert.equal(connections - before, 1 + 10);
    assert.deepEqual(
      answers.map((a) => a.dueMs <= a.doneMs),
      answers.map(() => true),
    );
  });

  it('presses again for the same request when refused, with -retry-refused, and then moves on', async () => {
    const paths = Array.from({ length: 5 }, (_, i) => `/retry/${i}`);
    const { answers } = await attack(
      'loadgen-test-retry',
      base,
      paths,
      { rate: 0, seconds: 60, conns: 1, requests: 5, retryRefused: true },
      '0-1',
    );
    assert.deepEqual(tally(answers), { '503 UNAVAILABLE': 5, '202 ACCEPTED': 5 });
    assert.deepEqual(
      retried,
      paths.flatMap((p) => [p, p]),
    );
  });

  it('sends an open model on its schedule, each request due at its own time', async () => {
    const { answers } = await attack('loadgen-test-open', base, ['/length'], { rate: 200, seconds: 0.5, conns: 4 }, '0-1');
    assert.equal(answers.length, 100);
    assert.deepEqual(tally(answers), { '202 ACCEPTED': 100 });
    const dues = answers.map((a) => a.dueMs).sort((x, y) => x - y);
    // Request i is due at i / rate: 5 ms apart.
    assert.equal(Math.round(dues[99]! - dues[0]!), 495);
  });
});
