import assert from 'node:assert/strict';
import type { Storm, StormResult } from '../../tools/harness/storm.ts';

export * from '../../tools/harness/storm.ts';

/**
 * The storm's promises: exactly the stock accepted per coupon, never twice to a (user, coupon),
 * every other known user told ALREADY_ISSUED or SOLD_OUT, unknown ids USER_NOT_FOUND, malformed
 * ids INVALID_REQUEST, and no 5xx. Returns the accepted request ids per coupon.
 */
export function assertStormOutcome(storm: Storm, results: StormResult[], { allowDropped = false } = {}): Map<number, Set<string>> {
  const accepted = new Map<number, Set<string>>(storm.coupons.map((c) => [c.id, new Set()]));
  const winners = new Set<string>();
  for (const r of results) {
    assert.ok(r.status < 500, `5xx: ${r.status} ${JSON.stringify(r.body)}`);
    if (r.status === 0) {
      assert.ok(allowDropped, 'a request got no answer');
      continue;
    }
    if (r.request.kind === 'malformed') {
      assert.equal(r.status, 400, JSON.stringify(r));
      assert.equal(r.body.code, 'INVALID_REQUEST');
    } else if (r.request.kind === 'unknown') {
      assert.equal(r.status, 404, JSON.stringify(r));
      assert.equal(r.body.code, 'USER_NOT_FOUND');
    } else if (r.status === 202) {
      const pair = `${r.request.couponId}/${r.request.publicId}`;
      assert.ok(!winners.has(pair), `${pair} accepted twice`);
      winners.add(pair);
      accepted.get(Number(r.request.couponId))!.add(r.body.requestId);
    } else {
      assert.equal(r.status, 409, JSON.stringify(r));
      assert.ok(['ALREADY_ISSUED', 'SOLD_OUT'].includes(r.body.code), JSON.stringify(r));
    }
  }
  // ALREADY_ISSUED only for pairs that did win (possibly answered later in the storm)...
  for (const r of results) {
    if (r.body?.code === 'ALREADY_ISSUED' && !allowDropped) {
      assert.ok(winners.has(`${r.request.couponId}/${r.request.publicId}`), `ALREADY_ISSUED without a 202: ${JSON.stringify(r.request)}`);
    }
  }
  for (const c of storm.coupons) {
    const n = accepted.get(c.id)!.size;
    if (allowDropped) assert.ok(n <= c.stock, `coupon ${c.id}: ${n} accepted > stock ${c.stock}`);
    else assert.equal(n, c.stock, `coupon ${c.id}: ${n} accepted, stock ${c.stock}`);
  }
  return accepted;
}
