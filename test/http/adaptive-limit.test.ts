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
    l.refused(70); // the limit is what holds requests back
    l.completed(99, 100); // closes it
    assert.equal(l.limit, 800);
  });

  it('holds when only 1 % were slow, and grows when it turned requests away within the target', () => {
    const l = new AdaptiveLimit({ max: 1000, min: 10, targetMs: 100, windowMs: 100 });
    l.completed(0, 0);
    complete(l, 99, 20, 50);
    complete(l, 1, 150, 60);
    l.completed(99, 100);
    assert.equal(l.limit, 1000, 'at its ceiling it cannot grow');
    complete(l, 500, 300, 150);
    l.refused(160);
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
    assert.equal(l.limit, 816, 'by a fiftieth: it is where the limit just shrank from 1000');
  });

  it('does not grow without demand, nor when nothing completed', () => {
    const l = new AdaptiveLimit({ max: 1000, min: 10, targetMs: 100, windowMs: 100 });
    l.completed(0, 0);
    complete(l, 100, 500, 50);
    l.refused(60);
    l.completed(100, 100);
    assert.equal(l.limit, 800);
    complete(l, 100, 10, 150);
    l.completed(200, 200);
    assert.equal(l.limit, 800, 'no request was turned away');
    l.refused(300);
    l.refused(400);
    assert.equal(l.limit, 800, 'a window with refusals but no completions');
  });

  it('holds still while it turns nobody away, however slow the requests or late the loop', () => {
    const l = new AdaptiveLimit({ max: 256, min: 10, targetMs: 100, windowMs: 100, lag: () => 500, lagTargetMs: 10 });
    for (let t = 0; t <= 1_000; t += 100) complete(l, 5, 400, t);
    assert.equal(l.limit, 256, 'a light load on a cold process: shrinking would only shed the next pile-up');
    l.refused(1_050);
    l.completed(1_099, 1_100);
    assert.equal(l.limit, 128, 'once it binds, the late loop halves it');
  });

  it('shrinks while arrivals wait for the event loop two windows in a row, in proportion to how long and at most by half', () => {
    const lags = [0, 12, 12, 15, 40, 0, 40, 0];
    const l = new AdaptiveLimit({ max: 1000, min: 10, targetMs: 100, windowMs: 100, lag: () => lags.shift() ?? 0, lagTargetMs: 10 });
    l.completed(0, 0); // the first window opens (lag 0 read)
    const window = (end: number) => {
      complete(l, 50, 5, end - 50);
      l.refused(end - 40);
      l.completed(end - 1, end);
    };
    window(100); // lag 12 against 10: once is a pause, not a backlog
    assert.equal(l.limit, 1000);
    window(200); // twice in a row: by 10/12, but never gentler than a fifth
    assert.equal(l.limit, 800);
    window(300); // lag 15: by 10/15
    assert.equal(l.limit, 533);
    window(400); // lag 40: by 10/40 would be too much; by half
    assert.equal(l.limit, 266);
    window(500); // on time again, and turning requests away: grows by a tenth
    assert.equal(l.limit, 293);
    window(600); // late once: neither shrinks nor grows
    assert.equal(l.limit, 293);
  });

  it('grows by a tenth up to four fifths of where it last shrank, by a fiftieth from there, and by a tenth again five seconds on', () => {
    const lags = [0, 40, 40];
    const l = new AdaptiveLimit({ max: 1000, min: 10, targetMs: 100, windowMs: 100, lag: () => lags.shift() ?? 0, lagTargetMs: 10 });
    l.completed(0, 0);
    const window = (end: number) => {
      complete(l, 50, 5, end - 50);
      l.refused(end - 40);
      l.completed(end - 1, end);
    };
    window(100);
    window(200); // late twice in a row: halved, from 1000
    assert.equal(l.limit, 500);
    const grown: number[] = [];
    for (let end = 300; end <= 900; end += 100) {
      window(end);
      grown.push(l.limit);
    }
    assert.deepEqual(grown, [550, 605, 666, 733, 806, 822, 838], 'a tenth a window below 800, a fiftieth from there');
    l.refused(5_100); // a window in which nothing it admitted completed: no change, 4.9 s after the cut
    window(5_200);
    assert.equal(l.limit, 922, 'five seconds after it shrank, that point is forgotten');
  });

  it('never goes below its floor', () => {
    const l = new AdaptiveLimit({ max: 1000, min: 300, targetMs: 100, windowMs: 100 });
    for (let t = 1_000; t < 5_000; t += 200) {
      complete(l, 100, 150, t);
      l.refused(t);
    }
    assert.equal(l.limit, 300);
  });

  it('refuses a floor above its ceiling', () => {
    assert.throws(() => new AdaptiveLimit({ max: 10, min: 20, targetMs: 100 }), RangeError);
  });
});
