import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CouponKnowledge } from '../../src/admission/knowledge.ts';

describe('CouponKnowledge', () => {
  const clock = () => {
    let now = 1_000;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  };

  it('knows nothing at first', () => {
    assert.equal(new CouponKnowledge().shortcut(1, 1), undefined);
  });

  it('answers sold out from memory until the TTL runs out', () => {
    const c = clock();
    const k = new CouponKnowledge({ soldOutTtlMs: 1_000, now: c.now });
    k.soldOut(7);
    assert.equal(k.shortcut(7, 42), 'SOLD_OUT');
    assert.equal(k.shortcut(8, 42), undefined);
    c.advance(1_001);
    assert.equal(k.shortcut(7, 42), undefined);
  });

  it('forgets sold out at once when the coupon changes, but keeps who was admitted', () => {
    const k = new CouponKnowledge();
    k.admitted(7, 1);
    k.soldOut(7);
    k.changed(7);
    assert.equal(k.shortcut(7, 2), undefined);
    assert.equal(k.shortcut(7, 1), 'ALREADY_ISSUED');
  });

  it('tells a winner they already have it even after the coupon sold out', () => {
    const k = new CouponKnowledge();
    k.admitted(7, 1);
    k.soldOut(7);
    assert.equal(k.shortcut(7, 1), 'ALREADY_ISSUED');
    assert.equal(k.shortcut(7, 2), 'SOLD_OUT');
  });

  it('lets a released user try again', () => {
    const k = new CouponKnowledge();
    k.admitted(7, 1);
    k.released(7, 1);
    assert.equal(k.shortcut(7, 1), undefined);
  });

  it('remembers not-open and not-found briefly', () => {
    const c = clock();
    const k = new CouponKnowledge({ closedTtlMs: 100, notFoundTtlMs: 200, now: c.now });
    k.closed(1);
    k.notFound(2);
    assert.equal(k.shortcut(1, 9), 'NOT_OPEN');
    assert.equal(k.shortcut(2, 9), 'COUPON_NOT_FOUND');
    c.advance(150);
    assert.equal(k.shortcut(1, 9), undefined);
    assert.equal(k.shortcut(2, 9), 'COUPON_NOT_FOUND');
    c.advance(100);
    assert.equal(k.shortcut(2, 9), undefined);
  });

  it('stops remembering users past its cap instead of growing without bound', () => {
    const k = new CouponKnowledge({ maxUsersPerCoupon: 2 });
    k.admitted(1, 1);
    k.admitted(1, 2);
    k.admitted(1, 3);
    assert.equal(k.shortcut(1, 2), 'ALREADY_ISSUED');
    assert.equal(k.shortcut(1, 3), undefined);
  });
});
