import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RefusalPacer } from '../../src/overload/refusal-pacer.ts';

/** A pacer on a clock of the test's own: its timer runs when the clock passes it. */
function pacer(share = 1) {
  let timer: { at: number } | undefined;
  let now = 0;
  const p = new RefusalPacer({ share, minRate: 100, maxHoldMs: 1_000, schedule: (_fn, ms) => (timer = { at: now + ms }) });
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
  /** `n` requests served evenly over [from, from + 100). */
  const serve = (n: number, from: number) => {
    for (let i = 0; i < n; i++) {
      advance(from + (i * 100) / n);
      p.served(from + (i * 100) / n);
    }
  };
  return { p, answered, refuse, serve, advance };
}

describe('RefusalPacer', () => {
  it('answers refusals at once while there are no more of them than requests served', () => {
    const { p, answered, refuse, serve } = pacer();
    serve(1_000, 0); // 10,000 served a second
    for (let w = 1; w < 10; w++) {
      for (let i = 0; i < 1_000; i++) {
        const t = w * 100 + i / 10;
        p.served(t);
        if (i % 10 !== 0) refuse(w * 1_000 + i, t);
      }
    }
    assert.equal(answered.length, 9 * 900);
    assert.ok(p.heldTotal <= 1, `${p.heldTotal} held`);
  });

  it('holds refusals beyond the pace of serving, answers them in arrival order, none later than its Retry-After', () => {
    const { p, answered, refuse, serve, advance } = pacer();
    serve(500, 0); // 5,000 served a second
    let id = 0;
    // 20,000 refusals a second: a window's worth at once (500), then 5,000/s; the rest wait their turn.
    for (let i = 0; i < 2_000; i++) {
      if (i % 4 === 0) p.served(100 + i / 20);
      refuse(id++, 100 + i / 20);
    }
    const inWindow = answered.length;
    assert.ok(inWindow >= 900 && inWindow <= 1_100, `${inWindow} answered in 100 ms: 500 at once and 5,000/s`);
    assert.ok(p.holding > 1_000, 'the rest are held');
    advance(1_050);
    assert.deepEqual(answered, [...answered].sort((a, b) => a - b), 'answered in arrival order');
    // The last arrived at 200 ms; the timer runs in steps of at least 1 ms.
    advance(1_202);
    assert.equal(p.holding, 0, 'nothing waits past its Retry-After');
    assert.equal(new Set(answered).size, id, 'every refusal answered exactly once');
  });

  it('never paces below its floor, even when nothing is served', () => {
    const { p, refuse } = pacer();
    for (let w = 0; w < 30; w++) refuse(w, w * 100);
    assert.equal(p.rate, 100);
  });
});
