import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryAfterOf } from '../../../tools/loadtest/engine.ts';

describe('retryAfterOf (a virtual user told to come back later)', () => {
  it('reads whole seconds, an HTTP date, and falls back to one second', () => {
    assert.equal(retryAfterOf('2'), 2_000);
    assert.equal(retryAfterOf(['3', '9']), 3_000);
    assert.equal(retryAfterOf(undefined), 1_000);
    assert.equal(retryAfterOf('soon'), 1_000);
    const inFive = new Date(Date.now() + 5_000).toUTCString();
    const ms = retryAfterOf(inFive);
    assert.ok(ms > 3_000 && ms <= 5_000, `${ms} ms until a date 5 s ahead (whole seconds)`);
  });
});
