import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdaptiveLimit } from '../../src/http/adaptive-limit.ts';

/** Completes `n` requests that each took `ms`, all finishing at `now`. */
function complete(limit: AdaptiveLimit, n: number, ms: number, now: number): void {
  for (let i = 0; i < n; i++) limit.completed(now - ms, now);
}

describe('AdaptiveLimit', () => {
  it('starts at its ceiling', () => {
    assert.equal(new AdaptiveLimit({ max: 2048, min: 256, targetMs: 100 }).limit, 2048);
  });

  it('shrinks by a fifth after a window in which more than 1 % were slower than the target', () => {
    const l = new AdaptiveLimit({ max: 1000, min: 10, targetMs: 100, windowMs: 100 });
    l.completed(0, 0); // opens the first window, [0, 100)
    complete(l, 97, 20, 50);
    complete(l, 2, 150, 60);
    l.completed(99, 100); // closes it
    assert.equal(l.limit, 800);
  });

  it('holds when only 1 % were slow, and grows by a tenth when it turned requests away within the target', () => {
    const l = new AdaptiveLimit({ max: 1000, min: 10, targetMs: 100, windowMs: 100 });
    l.completed(0, 0);
    complete(l, 99, 20, 50);
    complete(l, 1, 150, 60);
    l.completed(99, 100);
    assert.equal(l.limit, 1000, 'at its ceiling it cannot grow');
    complete(l, 500, 300, 150);
    l.completed(199, 200);
    assert.equal(l.limit, 800);
    // Requests that started before the cut say nothing about the new limit.
    complete(l, 500, 300, 250);
    l.refused(260);
    l.completed(299, 300);
    assert.equal(l.limit, 800, 'stale slow samples are ignored');
    complete(l, 100, 30, 350);
    l.refused(360);
    l.completed(399, 400);
    assert.equal(l.limit, 880);
  });

  it('does not grow without demand, nor when nothing completed', () => {
    const l = new AdaptiveLimit({ max: 1000, min: 10, targetMs: 100, windowMs: 100 });
    l.completed(0, 0);
    complete(l, 100, 500, 50);
    l.completed(100, 100);
    assert.equal(l.limit, 800);
    complete(l, 100, 10, 150);
    l.completed(200, 200);
    assert.equal(l.limit, 800, 'no request was turned away');
    l.refused(300);
    l.refused(400);
    assert.equal(l.limit, 800, 'a window with refusals but no completions');
  });

  it('never goes below its floor', () => {
    const l = new AdaptiveLimit({ max: 1000, min: 300, targetMs: 100, windowMs: 100 });
    for (let t = 1_000; t < 5_000; t += 200) complete(l, 100, 150, t);
    assert.equal(l.limit, 300);
  });

  it('refuses a floor above its ceiling', () => {
    assert.throws(() => new AdaptiveLimit({ max: 10, min: 20, targetMs: 100 }), RangeError);
  });
});
