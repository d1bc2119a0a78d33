import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RestartDelay } from '../../src/cli/supervisor.ts';

describe('RestartDelay', () => {
  const backoff = { initialMs: 250, maxMs: 2_000, resetAfterMs: 30_000 };

  it('doubles the wait for a child that keeps dying at once, up to the cap', () => {
    const delay = new RestartDelay(backoff);
    assert.deepEqual(
      Array.from({ length: 6 }, () => delay.next(10)),
      [250, 500, 1_000, 2_000, 2_000, 2_000],
    );
  });

  it('starts again from the first wait after a child that stayed up long enough', () => {
    const delay = new RestartDelay(backoff);
    delay.next(10);
    delay.next(10);
    delay.next(10);
    assert.equal(delay.next(30_000), 250);
    assert.equal(delay.next(10), 500);
  });

  it('keeps backing off for a child that ran a while, but not long enough', () => {
    const delay = new RestartDelay(backoff);
    delay.next(10);
    assert.equal(delay.next(29_999), 500);
  });
});
