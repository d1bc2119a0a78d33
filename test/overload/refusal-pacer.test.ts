import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RefusalPacer } from '../../src/overload/refusal-pacer.ts';

/** A pacer on a clock of the test's own: its timer runs when the clock passes it. */
function pacer(lag: { ms: number }) {
  let timer: { at: number } | undefined;
  let now = 0;
  const p = new RefusalPacer({ lag: () => lag.ms, lagTargetMs: 5, minRate: 100, maxHoldMs: 1_000, schedule: (_fn, ms) => (timer = { at: now + ms }) });
  const answered: number[] = [];
  const advance = (to: number) => {
    while (timer && timer.at <= to) {
      now = timer.at;
      timer = undefined;
      p.release(now);
    }
    now = to;
  };
  const refuse = (id: number, at: number) => {
    advance(at);
    p.refuse(() => answered.push(id), at);
  };
  return { p, answered, refuse, advance };
}

describe('RefusalPacer', () => {
  it('answers every refusal at once while the event loop keeps up', () => {
    const { p, answered, refuse } = pacer({ ms: 0 });
    for (let i = 0; i < 5_000; i++) refuse(i, i * 0.1);
    assert.equal(answered.length, 5_000);
    assert.equal(p.rate, 0, 'unpaced');
    assert.equal(p.heldTotal, 0);
  });

  it('paces refusals once they crowd out the work, holding the rest in arrival order, at most their Retry-After', () => {
    const lag = { ms: 0 };
    const { p, answered, refuse, advance } = pacer(lag);
    let id = 0;
    // A window answered at 10,000/s, then the loop falls behind.
    for (let i = 0; i < 1_000; i++) refuse(id++, i / 10);
    lag.ms = 20;
    refuse(id++, 100);
    assert.equal(p.rate, 5_000, 'half of what was answered');
    // 20,000/s keep coming: about a quarter are answered in the window (5,000/s), the rest wait their turn.
    const before = answered.length;
    for (let i = 1; i < 2_000; i++) refuse(id++, 100 + i / 20);
    const inWindow = answered.length - before;
    assert.ok(inWindow >= 400 && inWindow <= 600, `${inWindow} answered in 100 ms at 5,000/s`);
    assert.ok(p.holding > 1_000, 'the rest are held');
    advance(1_050);
    assert.deepEqual(answered, [...answered].sort((a, b) => a - b), 'answered in arrival order');
    advance(1_300);
    assert.equal(p.holding, 0, 'nothing waits past its Retry-After');
    assert.equal(new Set(answered).size, id, 'every refusal answered exactly once');
  });

  it('lifts the pace again while the loop is on time', () => {
    const lag = { ms: 20 };
    const { p, refuse } = pacer(lag);
    for (let t = 0; t < 100; t += 1) refuse(t, t);
    refuse(-1, 100);
    const paced = p.rate;
    assert.ok(paced > 0);
    lag.ms = 0;
    for (let w = 2; w < 60; w++) refuse(-w, w * 100);
    assert.equal(p.rate, 0, 'unpaced again');
  });

  it('never paces below its floor', () => {
    const { p, refuse } = pacer({ ms: 50 });
    for (let w = 0; w < 30; w++) refuse(w, w * 100);
    assert.equal(p.rate, 100);
  });
});
