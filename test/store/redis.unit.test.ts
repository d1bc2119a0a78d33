import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createRedis, reportConnection } from '../../src/store/redis.ts';

/** A logger whose lines are kept, parsed, to be read back. */
function capturingLogger() {
  const lines: { level: number; msg: string; err?: { message: string; stack: string } }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const WARN = 40;
const INFO = 30;

describe('reportConnection', () => {
  it('warns once for an outage however many reconnects fail, and says when it is back', () => {
    const { logger, lines } = capturingLogger();
    const connection = new EventEmitter();
    reportConnection(connection, logger);

    connection.emit('ready');
    for (let attempt = 0; attempt < 5; attempt++) connection.emit('error', new Error('connect ECONNREFUSED'));
    connection.emit('ready');
    connection.emit('error', new Error('read ECONNRESET'));

    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        [WARN, 'Redis connection lost; commands fail fast until it is back'],
        [INFO, 'Redis connection back'],
        [WARN, 'Redis connection lost; commands fail fast until it is back'],
      ],
    );
  });

  it('logs the error itself, its stack included, not only its message', () => {
    const { logger, lines } = capturingLogger();
    const connection = new EventEmitter();
    reportConnection(connection, logger);
    connection.emit('error', new Error('read ECONNRESET'));
    assert.equal(lines[0]?.err?.message, 'read ECONNRESET');
    assert.match(lines[0]?.err?.stack ?? '', /^Error: read ECONNRESET\n\s+at /);
  });

  it('is wired into every client createRedis makes, so no error goes unhandled', async () => {
    const { logger, lines } = capturingLogger();
    // Port 1 on loopback: nothing listens, every connection attempt is refused.
    const redis = createRedis({ url: 'redis://127.0.0.1:1', name: 'nobody', logger });
    try {
      await assert.rejects(redis.connect());
      assert.ok(redis.listenerCount('error') >= 1);
      assert.equal(lines.filter((l) => l.level === WARN).length, 1);
    } finally {
      redis.disconnect();
    }
  });
});
