import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../../../tools/loadtest/duration.ts';
import { arrivalCount, arrivalTimes, levelAt, linearAt, vuSteps } from '../../../tools/loadtest/schedule.ts';

describe('durations', () => {
  it('reads k6 duration strings', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('1m40s'), 100_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('1.5s'), 1_500);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration(2), 2_000);
    for (const bad of ['', '10', '5x', 's', '1m 30s', '-1s']) assert.throws(() => parseDuration(bad), /invalid duration/, bad);
  });
});

describe('ramping VUs (stage expansion)', () => {
  it('steps one VU at a time, reaching a level when the line does', () => {
    const steps = vuSteps(0, [{ durationMs: 10_000, target: 5 }]);
    assert.deepEqual(steps, [
      { atMs: 0, value: 0 },
      { atMs: 2_000, value: 1 },
      { atMs: 4_000, value: 2 },
      { atMs: 6_000, value: 3 },
      { atMs: 8_000, value: 4 },
      { atMs: 10_000, value: 5 },
    ]);
    assert.equal(levelAt(steps, 1_999), 0);
    assert.equal(levelAt(steps, 2_000), 1);
    assert.equal(levelAt(steps, 9_999), 4);
    assert.equal(levelAt(steps, 60_000), 5);
  });

  it('ramps down by leaving levels as the line does, and holds flat stages', () => {
    const steps = vuSteps(4, [
      { durationMs: 1_000, target: 4 },
      { durationMs: 4_000, target: 0 },
    ]);
    assert.deepEqual(steps, [
      { atMs: 0, value: 4 },
      { atMs: 2_000, value: 3 },
      { atMs: 3_000, value: 2 },
      { atMs: 4_000, value: 1 },
      { atMs: 5_000, value: 0 },
    ]);
  });

  it('expands the four-stage load stage 0→50→100→0 over 2 minutes', () => {
    const stages = [
      { durationMs: 40_000, target: 50 },
      { durationMs: 40_000, target: 100 },
      { durationMs: 40_000, target: 0 },
    ];
    const steps = vuSteps(0, stages);
    assert.equal(steps.length, 1 + 50 + 50 + 100);
    assert.equal(levelAt(steps, 40_000), 50);
    assert.equal(levelAt(steps, 60_000), 75);
    assert.equal(levelAt(steps, 80_000), 100);
    assert.equal(levelAt(steps, 100_000), 50);
    assert.equal(levelAt(steps, 120_000), 0);
    // Monotone in each stage, one VU per step.
    for (let i = 1; i < steps.length; i++) {
      assert.ok(steps[i]!.atMs > steps[i - 1]!.atMs);
      assert.equal(Math.abs(steps[i]!.value - steps[i - 1]!.value), 1);
    }
  });

  it('jumps at once for a zero-length stage', () => {
    assert.deepEqual(
      vuSteps(0, [
        { durationMs: 0, target: 7 },
        { durationMs: 1_000, target: 7 },
      ]),
      [{ atMs: 0, value: 7 }],
    );
  });

  it('draws the straight target line', () => {
    const stages = [
      { durationMs: 10_000, target: 500 },
      { durationMs: 30_000, target: 500 },
      { durationMs: 10_000, target: 0 },
    ];
    assert.equal(linearAt(0, stages, 0), 0);
    assert.equal(linearAt(0, stages, 5_000), 250);
    assert.equal(linearAt(0, stages, 20_000), 500);
    assert.equal(linearAt(0, stages, 45_000), 250);
    assert.equal(linearAt(0, stages, 50_000), 0);
    assert.equal(linearAt(0, stages, 60_000), 0);
  });
});

describe('arrival-rate iteration times', () => {
  it('spaces a constant rate evenly, counting the one on the stage end', () => {
    const t = [...arrivalTimes(10, [{ durationMs: 1_000, target: 10 }], 1_000)];
    assert.equal(t.length, 10);
    for (const [i, v] of t.entries()) assert.ok(Math.abs(v - (i + 1) * 100) < 1e-6, `${i}: ${v}`);
  });

  it('follows a ramp: the k-th iteration when the area under the rate reaches k', () => {
    // 0 → 2,000/s over 5 s: area 5,000; area(t) = 200 t² (t in s), so iteration k at sqrt(k/200) s.
    const t = [...arrivalTimes(0, [{ durationMs: 5_000, target: 2_000 }], 1_000)];
    assert.equal(t.length, 5_000);
    assert.equal(arrivalCount(0, [{ durationMs: 5_000, target: 2_000 }], 1_000), 5_000);
    for (const k of [1, 2, 100, 1_250, 4_999, 5_000]) {
      assert.ok(Math.abs(t[k - 1]! - Math.sqrt(k / 200) * 1_000) < 1e-6, `k=${k}: ${t[k - 1]}`);
    }
    for (let i = 1; i < t.length; i++) assert.ok(t[i]! >= t[i - 1]!);
    // Half the arrivals come in the last 29 % of the ramp.
    assert.ok(Math.abs(t[2_499]! - Math.sqrt(0.5) * 5_000) < 1);
  });

  it('matches the event-opening profile: 5,000 in the ramp then 10,000 at 2,000/s', () => {
    const stages = [
      { durationMs: 5_000, target: 2_000 },
      { durationMs: 5_000, target: 2_000 },
    ];
    const t = [...arrivalTimes(0, stages, 1_000)];
    assert.equal(t.length, 15_000);
    assert.equal(t.filter((v) => v <= 5_000).length, 5_000);
    const perSecond = Array.from({ length: 10 }, (_, s) => t.filter((v) => v > s * 1_000 && v <= (s + 1) * 1_000).length);
    assert.deepEqual(perSecond, [200, 600, 1_000, 1_400, 1_800, 2_000, 2_000, 2_000, 2_000, 2_000]);
  });

  it('ramps down and honours timeUnit', () => {
    const t = [...arrivalTimes(60, [{ durationMs: 60_000, target: 0 }], 60_000)];
    assert.equal(t.length, 30); // a triangle of 60/min over one minute
    assert.ok(t.at(-1)! <= 60_000);
    assert.deepEqual([...arrivalTimes(0, [{ durationMs: 10_000, target: 0 }], 1_000)], []);
  });
});
