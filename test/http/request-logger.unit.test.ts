import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { lazyChildLogger } from '../../src/http/request-logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const parent = pino({ level: 'info', base: { name: 'api' } }, stream);
  let children = 0;
  const child = parent.child.bind(parent);
  parent.child = ((...args: Parameters<typeof child>) => {
    children++;
    return child(...args);
  }) as typeof parent.child;
  return { parent, lines, children: () => children };
}

describe('the per-request logger', () => {
  it('makes no pino child for a request that does not log', () => {
    const { parent, children } = capture();
    lazyChildLogger(parent, { reqId: 'req-1' }, {});
    assert.equal(children(), 0);
  });

  it('logs with the request id, through one child however often it logs', async () => {
    const { parent, lines, children } = capture();
    const log = lazyChildLogger(parent, { reqId: 'req-2' }, {});
    log.error({ code: 'X' }, 'first');
    log.warn('second');
    log.debug('below the level');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(children(), 1);
    assert.deepEqual(
      lines.map((l) => [l.reqId, l.name, l.msg, l.code]),
      [
        ['req-2', 'api', 'first', 'X'],
        ['req-2', 'api', 'second', undefined],
      ],
    );
  });

  it('reads and sets the level of its child', () => {
    const { parent } = capture();
    const log = lazyChildLogger(parent, { reqId: 'req-3' }, { level: 'warn' });
    assert.equal(log.level, 'warn');
    log.level = 'error';
    assert.equal(log.level, 'error');
    assert.equal(parent.level, 'info');
  });
});
