import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RefusalPacer } from '../../src/overload/refusal-pacer.ts';

/** A pacer on a clock of the test's own: its timer runs when the clock passes it. */
function pacer(random = () => 0.999_999) {
  let timer: { at: number } | undefined;
  let now = 0;
  // By default jitter at its most: held for the whole Retry-After (the spread has a test of its own).
  const p = new RefusalPacer({
    retryAtOnceMs: 100,
    retryAfterMs: 1_000,
    tickMs: 10,
    random,
    schedule: (_fn, ms) => (timer = { at: now + ms }),
  });
  const answered: { id: number; at: number }[] = [];
  const advance = (to: number) => {
    while (timer && timer.at <= to) {
      now = timer.at;
      timer = undefined;
      p.release(now);
    }
    now = to;
  };
  const refuse = (id: number, at: number, lastRefusedAt: number | undefined) => {
    advance(at);
    p.refuse(() => answered.push({ id, at: now }), at, lastRefusedAt);
  };
  return { p, answered, refuse, advance };
}

describe('RefusalPacer', () => {
  it('answers at once a connection refused for the first time, or one that waited before coming back', () => {
    const { p, answered, refuse } = pacer();
    refuse(1, 0, undefined);
    refuse(2, 5_000, 3_900); // came back 1.1 s after its refusal: it honoured Retry-After
    refuse(3, 6_000, 5_850); // 150 ms later: slower than "at once"
    assert.deepEqual(answered, [
      { id: 1, at: 0 },
      { id: 2, at: 5_000 },
      { id: 3, at: 6_000 },
    ]);
    assert.equal(p.heldTotal, 0);
  });

  it('holds a connection that comes back at once until the Retry-After of its previous refusal has passed', () => {
    const { p, answered, refuse, advance } = pacer();
    refuse(1, 1_000, 999); // sent again 1 ms after being told to wait a second
    refuse(2, 1_050, 1_020);
    assert.equal(answered.length, 0);
    assert.equal(p.holding, 2);
    advance(2_005);
    assert.deepEqual(
      answered.map((a) => a.id),
      [1],
      'the first is due at 1,999',
    );
    advance(2_030);
    assert.deepEqual(
      answered.map((a) => a.id),
      [1, 2],
    );
    for (const a of answered) assert.ok(a.at - (a.id === 1 ? 999 : 1_020) >= 1_000, 'never before its Retry-After');
    for (const a of answered) assert.ok(a.at - (a.id === 1 ? 999 : 1_020) <= 1_010, 'and within a tick of it');
    assert.equal(p.holding, 0);
    assert.equal(p.heldTotal, 2);
  });

  it('makes a client that retries at once cost one refusal per Retry-After, not one per round trip', () => {
    const { answered, refuse, advance } = pacer();
    // A closed-loop client: it sends again 1 ms after every answer, for 10 s.
    let last: number | undefined;
    let t = 0;
    while (t < 10_000) {
      const before = answered.length;
      refuse(answered.length, t, last);
      while (answered.length === before) advance((t += 1));
      last = answered.at(-1)!.at;
      t = last + 1;
    }
    assert.ok(answered.length <= 11, `${answered.length} refusals in 10 s`);
  });

  it('spreads the holds of one burst over the second half of the Retry-After', () => {
    let draw = 0;
    const { answered, refuse, advance } = pacer(() => (draw++ % 10) / 10);
    // Ten connections refused at 0 come back at once, all at 1 ms.
    for (let i = 0; i < 10; i++) refuse(i, 1, 0);
    advance(2_000);
    const at = answered.map((a) => a.at);
    assert.equal(at.length, 10);
    assert.ok(Math.min(...at) >= 500 && Math.max(...at) <= 1_010, `${at}`);
    assert.ok(new Set(at).size >= 8, `spread, not one wave: ${at}`);
  });
});
