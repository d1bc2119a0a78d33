import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdmissionLimit } from '../../src/overload/admission-limit.ts';
import { OverloadControl } from '../../src/overload/overload-control.ts';

/** Keeps `inSystem` requests in the limit and completes `perWindow` of them (replacing each) in every 100 ms window from `from` for `windows` windows. */
function busy(limit: AdmissionLimit, from: number, windows: number, perWindow: number): number {
  let now = from;
  for (let w = 0; w < windows; w++) {
    for (let i = 0; i < perWindow; i++) {
      now = from + w * 100 + (i * 100) / perWindow;
      limit.leave(now);
      // A replacement arrives at once; it may be refused only if the limit shrank meanwhile.
      if (!limit.tryEnter(now)) assert.ok(limit.inSystem >= limit.limit, 'refused with room left');
    }
  }
  return from + windows * 100;
}

/** A limit that measured 2,000/s with 50 in it (200 at a 100 ms target), and when it had. */
function measuredAt2000(): { limit: AdmissionLimit; now: number } {
  const limit = new AdmissionLimit({ targetMs: 100, min: 4, max: 100_000, initial: 50 });
  fill(limit, 50, 0);
  const now = busy(limit, 0, 2, 200);
  limit.tryEnter(now);
  return { limit, now };
}

function fill(limit: AdmissionLimit, n: number, now: number): number {
  let entered = 0;
  while (entered < n && limit.tryEnter(now)) entered++;
  return entered;
}

describe('AdmissionLimit', () => {
  it('starts at its initial limit and refuses the newest arrivals beyond it, never those already in', () => {
    const limit = new AdmissionLimit({ targetMs: 100, min: 4, max: 1000, initial: 8 });
    const decisions = Array.from({ length: 12 }, () => limit.tryEnter(0));
    assert.deepEqual(decisions, [...Array(8).fill(true), ...Array(4).fill(false)]);
    assert.equal(limit.inSystem, 8);
    limit.leave(1);
    assert.equal(limit.tryEnter(2), true, "a place freed is the next arrival's");
    assert.equal(limit.tryEnter(2), false);
  });

  it('becomes throughput × target (Little) once it has measured a busy window', () => {
    const limit = new AdmissionLimit({ targetMs: 100, min: 4, max: 100_000, initial: 50 });
    assert.equal(fill(limit, 50, 0), 50);
    // 200 answered per 100 ms window while never idle: 2,000/s, so 200 in the process for 100 ms.
    const now = busy(limit, 0, 2, 200);
    limit.tryEnter(now); // rolls the window
    assert.equal(limit.throughput, 2_000);
    assert.equal(limit.limit, 200);
  });

  it('grows with the load: a larger backlog served faster raises it again', () => {
    const limit = new AdmissionLimit({ targetMs: 100, min: 4, max: 100_000, initial: 50 });
    fill(limit, 50, 0);
    let now = busy(limit, 0, 2, 200);
    fill(limit, 1_000, now);
    assert.equal(limit.inSystem, 200);
    now = busy(limit, now, 2, 500);
    limit.tryEnter(now);
    assert.equal(limit.limit, 500);
  });

  it('builds on the median of the last busy windows: one window of batches coming back together is not capacity', () => {
    const limit = new AdmissionLimit({ targetMs: 100, min: 4, max: 100_000, initial: 1_000 });
    fill(limit, 1_000, 0);
    let now = busy(limit, 0, 4, 200);
    now = busy(limit, now, 1, 900);
    limit.tryEnter(now);
    assert.equal(limit.throughput, 2_000, 'four windows of 200 and one of 900: the median is 200 a window');
    assert.equal(limit.limit, 200);
    // The load stays higher: once most of the remembered windows show it, the limit follows.
    now = busy(limit, now, 6, 500);
    limit.tryEnter(now);
    assert.equal(limit.throughput, 5_000);
    assert.equal(limit.limit, 500);
  });

  it('does not learn capacity from a window in which the process ran dry', () => {
    const limit = new AdmissionLimit({ targetMs: 100, min: 4, max: 100_000, initial: 50 });
    // Ten requests a window, each gone before the next arrives: demand, not capacity.
    for (let t = 0; t < 1_000; t += 10) {
      assert.equal(limit.tryEnter(t), true);
      limit.leave(t + 1);
    }
    assert.equal(limit.throughput, 0);
    assert.equal(limit.limit, 50);
  });

  it('learns nothing from a closed loop that never fills it: demand is not capacity, and the next burst finds the room', () => {
    const limit = new AdmissionLimit({ targetMs: 75, min: 16, max: 100_000, initial: 512 });
    assert.equal(fill(limit, 64, 0), 64);
    // 64 clients answered 4,500 times a second: Little would say 337, but none of them waited.
    let now = busy(limit, 0, 10, 450);
    // 500 clients press at once: all taken in, and what they show the process can do raises it.
    assert.equal(fill(limit, 436, now), 436);
    assert.equal(limit.limit, 512);
    assert.equal(limit.throughput, 0);
    now = busy(limit, now, 2, 1_000);
    limit.tryEnter(now);
    assert.equal(limit.throughput, 10_000);
    assert.equal(limit.limit, 750);
  });

  it('keeps its estimate through a dip in which nobody was refused and requests stayed within the target', () => {
    const measured = measuredAt2000();
    const { limit } = measured;
    let { now } = measured;
    assert.equal(limit.limit, 200);
    // Half the throughput for most of the remembered windows: 50 in the process for 50 ms each.
    now = busy(limit, now, 6, 100);
    limit.tryEnter(now);
    assert.equal(limit.limit, 200);
  });

  it('follows a process that slowed under the load it has, though nobody was refused', () => {
    const measured = measuredAt2000();
    const { limit } = measured;
    let { now } = measured;
    assert.equal(limit.limit, 200);
    // 200 a second with 50 in the process: each stays 250 ms, past the target.
    now = busy(limit, now, 6, 20);
    limit.tryEnter(now);
    assert.equal(limit.throughput, 200);
    assert.equal(limit.limit, 20);
  });

  it('learns nothing either from fewer requests than its floor kept long: a process just started, opening its connections', () => {
    const limit = new AdmissionLimit({ targetMs: 75, floor: 256, min: 16, max: 100_000, initial: 512 });
    fill(limit, 64, 0);
    // 500 a second with 64 in the process: 128 ms each, past the target, but the floor is served whole anyway.
    const now = busy(limit, 0, 10, 50);
    assert.equal(fill(limit, 448, now), 448);
    assert.equal(limit.limit, 512);
  });

  it('takes the wait for the event loop (twice the mean) out of its target, two windows in a row, and never goes below its minimum', () => {
    let lag = 0;
    const limit = new AdmissionLimit({ targetMs: 100, min: 16, max: 100_000, initial: 50, lag: () => lag, lagNoiseMs: 5 });
    fill(limit, 50, 0);
    let now = busy(limit, 0, 2, 200);
    limit.tryEnter(now);
    assert.equal(limit.limit, 200);
    lag = 10;
    now = busy(limit, now, 1, 200);
    limit.tryEnter(now);
    assert.equal(limit.limit, 200, 'one late window is a pause, not a backlog');
    now = busy(limit, now, 1, 200);
    limit.tryEnter(now);
    assert.equal(limit.limit, 160, 'a 10 ms mean wait leaves 80 of the 100 ms target');
    lag = 1_000;
    now = busy(limit, now, 1, 50);
    now = busy(limit, now, 1, 50);
    limit.tryEnter(now);
    assert.equal(limit.limit, 16, 'nothing of the target left: the minimum');
    lag = 0;
    now = busy(limit, now, 2, 16);
    limit.tryEnter(now);
    assert.equal(limit.limit, 200, 'on time again: back to what the best recent window showed');
  });

  it('scales its initial limit for a late event loop before it has measured anything', () => {
    const limit = new AdmissionLimit({ targetMs: 100, floor: 256, min: 16, max: 100_000, initial: 512, lag: () => 16, lagNoiseMs: 5 });
    fill(limit, 100, 0);
    // 2,000 answered a second with 100 in the process: 50 ms each, 82 with the loop's 32 charged,
    // within the target, so demand alone, and nothing measured.
    const now = busy(limit, 0, 2, 200);
    limit.tryEnter(now);
    assert.equal(limit.limit, 348, '16 ms of mean wait, charged twice, leave 68 of the 100 ms target: 0.68 of 512');
  });

  it('keeps its floor while the event loop keeps up, however slow the process, and goes below it only when the loop is late', () => {
    let lag = 0;
    const limit = new AdmissionLimit({ targetMs: 100, floor: 256, min: 16, max: 100_000, initial: 300, lag: () => lag, lagNoiseMs: 5 });
    fill(limit, 300, 0);
    // 100 a second: Little alone would allow 10.
    let now = busy(limit, 0, 2, 10);
    limit.tryEnter(now);
    assert.equal(limit.limit, 256);
    lag = 20;
    now = busy(limit, now, 2, 10);
    limit.tryEnter(now);
    assert.equal(limit.limit, 153, 'a 20 ms mean wait leaves 60 of the 100 ms target: 0.6 of the floor');
  });

  it('never exceeds its ceiling', () => {
    const limit = new AdmissionLimit({ targetMs: 1_000, min: 4, max: 300, initial: 50 });
    fill(limit, 50, 0);
    const now = busy(limit, 0, 2, 1_000);
    limit.tryEnter(now);
    assert.equal(limit.limit, 300);
  });

  it('is a fixed cap with IN_FLIGHT_TARGET_MS=0, window after window', () => {
    const control = new OverloadControl({ maxInFlight: 3, inFlightTargetMs: 0, loopDelayTargetMs: 0 });
    for (let window = 0; window < 5; window++) {
      const now = window * 150;
      const taken = Array.from({ length: 5 }, () => control.enter(now));
      assert.deepEqual(taken, [true, true, true, false, false], `window ${window}`);
      for (let i = 0; i < 3; i++) control.leave(now + 1);
    }
    assert.equal(control.state().limit, 3);
  });
});
