/**
 * The timing of k6's executors, as pure functions: when ramping-vus changes its VU count, and when
 * each iteration of an arrival-rate executor starts. Both follow k6's own rules, so a scenario
 * file means the same load to k6 and to the local runner.
 */

export interface StageMs {
  durationMs: number;
  target: number;
}

export interface Step {
  atMs: number;
  value: number;
}

/**
 * The VU count's change points for a start value and linear stages, as k6's ramping-vus makes
 * them: going from `from` to `to` over D, the count moves by one at D*i/|to-from| for i = 1..|to-from|
 * (so a ramp up reaches a level only when the line does, and a ramp down leaves one as it does).
 */
export function vuSteps(startValue: number, stages: readonly StageMs[]): Step[] {
  const steps: Step[] = [{ atMs: 0, value: startValue }];
  let from = startValue;
  let t0 = 0;
  for (const { durationMs, target } of stages) {
    const diff = Math.abs(target - from);
    const dir = Math.sign(target - from);
    if (diff > 0) {
      if (durationMs === 0) steps.push({ atMs: t0, value: target });
      else for (let i = 1; i <= diff; i++) steps.push({ atMs: t0 + (durationMs * i) / diff, value: from + dir * i });
    }
    from = target;
    t0 += durationMs;
  }
  // Several changes at one instant: keep the last.
  const out: Step[] = [];
  for (const s of steps) {
    if (out.length > 0 && out.at(-1)!.atMs === s.atMs) out[out.length - 1] = s;
    else out.push(s);
  }
  return out;
}

/** The VU count at a time from the steps (the last change at or before t). */
export function levelAt(steps: readonly Step[], tMs: number): number {
  let value = 0;
  for (const s of steps) {
    if (s.atMs > tMs) break;
    value = s.value;
  }
  return value;
}

/** The straight-line schedule value (VUs or rate) at t: the target line a report draws. */
export function linearAt(startValue: number, stages: readonly StageMs[], tMs: number): number {
  let from = startValue;
  let t0 = 0;
  for (const { durationMs, target } of stages) {
    if (tMs < t0 + durationMs) return durationMs === 0 ? target : from + ((target - from) * (tMs - t0)) / durationMs;
    from = target;
    t0 += durationMs;
  }
  return tMs <= t0 ? from : 0;
}

/**
 * Start times (ms from the scenario's start) of an arrival-rate executor's iterations: the k-th
 * (from 1) starts when the area under the rate line reaches k, as in k6's ramping-arrival-rate,
 * which counts an iteration that falls exactly on the end of a stage.
 */
export function* arrivalTimes(startRate: number, stages: readonly StageMs[], timeUnitMs: number): Generator<number> {
  let from = startRate / timeUnitMs; // iterations per ms
  let t0 = 0;
  let done = 0; // area before this stage
  let k = 1;
  for (const { durationMs, target } of stages) {
    const to = target / timeUnitMs;
    const a = from;
    const b = durationMs === 0 ? 0 : (to - from) / durationMs;
    const area = ((a + to) / 2) * durationMs;
    const end = done + area;
    while (k <= end + 1e-9) {
      const x = k - done;
      let dt: number;
      if (b === 0) dt = x / a;
      else {
        const disc = Math.max(0, a * a + 2 * b * x);
        dt = (2 * x) / (a + Math.sqrt(disc));
      }
      yield t0 + Math.min(durationMs, dt);
      k++;
    }
    done = end;
    from = to;
    t0 += durationMs;
  }
}

/** How many iterations an arrival-rate schedule starts in all. */
export function arrivalCount(startRate: number, stages: readonly StageMs[], timeUnitMs: number): number {
  let n = 0;
  let from = startRate;
  for (const { durationMs, target } of stages) {
    n += ((from + target) / 2) * (durationMs / timeUnitMs);
    from = target;
  }
  return Math.floor(n + 1e-9);
}
