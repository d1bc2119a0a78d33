import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { couponKeys } from '../../src/store/keys.ts';
import { AdmissionScripts, AdmitCode, type AdmitRequest } from '../../src/store/scripts.ts';
import type { Redis } from '../../src/store/redis.ts';
import { testConfig } from '../support/env.ts';
import { openTestRedis } from '../support/services.ts';

// The Lua scripts, called directly against the real Redis (database 1).
describe('admission scripts', () => {
  let redis: Redis;
  let scripts: AdmissionScripts;
  let couponId = 900_000;

  before(async () => {
    redis = await openTestRedis(testConfig());
    scripts = new AdmissionScripts(redis);
  });
  after(() => redis.disconnect());
  beforeEach(() => {
    couponId++;
  });

  const req = (userId: number): AdmitRequest => {
    const eventId = randomUUID();
    return { userId, eventId, eventJson: JSON.stringify({ eventId, userId }) };
  };
  const open = { startsAtMs: 0, endsAtMs: 0, name: 'test' };
  const reset = async (id: number) => redis.del(...Object.values(couponKeys(id)));

  it('admits until the stock is gone, then says sold out', async () => {
    await reset(couponId);
    assert.equal(await scripts.initCoupon(couponId, { ...open, total: 2 }), 2);
    const r = await scripts.admit(couponId, [req(1), req(2), req(3)]);
    assert.deepEqual(r.codes, [AdmitCode.ACCEPTED, AdmitCode.ACCEPTED, AdmitCode.SOLD_OUT]);
    assert.equal(r.remaining, 0);
    assert.equal(await redis.get(couponKeys(couponId).stock), '0');
    assert.equal(await redis.scard(couponKeys(couponId).users), 2);
    assert.equal(await redis.hlen(couponKeys(couponId).pending), 2);
  });

  it('admits a user once, within a batch and across batches', async () => {
    await reset(couponId);
    await scripts.initCoupon(couponId, { ...open, total: 10 });
    const first = await scripts.admit(couponId, [req(5), req(5)]);
    assert.deepEqual(first.codes, [AdmitCode.ACCEPTED, AdmitCode.ALREADY_ISSUED]);
    const again = await scripts.admit(couponId, [req(5)]);
    assert.deepEqual(again.codes, [AdmitCode.ALREADY_ISSUED]);
    assert.equal(again.remaining, 9);
  });

  it('admits several coupons in one call, each on its own stock, window and users, results in the order given', async () => {
    const [a, b, closed, unknown] = [couponId, couponId + 100_000, couponId + 200_000, couponId + 300_000];
    await Promise.all([a, b, closed, unknown].map(reset));
    await scripts.initCoupon(a, { ...open, total: 1 });
    await scripts.initCoupon(b, { ...open, total: 5 });
    await scripts.initCoupon(closed, { ...open, startsAtMs: Date.now() + 60_000, total: 5 });
    const results = await scripts.admitMany([
      { couponId: a, requests: [req(1), req(2)] },
      { couponId: unknown, requests: [req(1)] },
      { couponId: b, requests: [req(1), req(1), req(3)] },
      { couponId: closed, requests: [req(1)] },
    ]);
    assert.deepEqual(
      results.map((r) => [r.remaining, r.codes]),
      [
        [0, [AdmitCode.ACCEPTED, AdmitCode.SOLD_OUT]],
        [-1, [AdmitCode.NOT_FOUND]],
        [3, [AdmitCode.ACCEPTED, AdmitCode.ALREADY_ISSUED, AdmitCode.ACCEPTED]],
        [5, [AdmitCode.NOT_OPEN]],
      ],
    );
    assert.deepEqual((await redis.smembers(couponKeys(b).users)).sort(), ['1', '3']);
    assert.equal(await redis.hlen(couponKeys(a).pending), 1);
    assert.equal(await redis.exists(couponKeys(unknown).stock), 0);
    await Promise.all([a, b, closed].map(reset));
  });

  it('never takes stock below zero under concurrent batches', async () => {
    await reset(couponId);
    await scripts.initCoupon(couponId, { ...open, total: 50 });
    const batches = Array.from({ length: 40 }, (_, b) => Array.from({ length: 10 }, (_, i) => req(b * 10 + i + 1)));
    const results = await Promise.all(batches.map((batch) => scripts.admit(couponId, batch)));
    const accepted = results.flatMap((r) => r.codes).filter((c) => c === AdmitCode.ACCEPTED).length;
    assert.equal(accepted, 50);
    assert.equal(await redis.get(couponKeys(couponId).stock), '0');
  });

  it('refuses outside the issue window and for unknown coupons', async () => {
    await reset(couponId);
    const now = Date.now();
    await scripts.initCoupon(couponId, { total: 5, startsAtMs: now + 60_000, endsAtMs: 0, name: 'later' });
    assert.deepEqual((await scripts.admit(couponId, [req(1)])).codes, [AdmitCode.NOT_OPEN]);
    assert.deepEqual((await scripts.admit(couponId, [req(1)], now + 61_000)).codes, [AdmitCode.ACCEPTED]);
    await scripts.initCoupon(couponId, { total: 5, startsAtMs: 0, endsAtMs: now - 1, name: 'over' });
    assert.deepEqual((await scripts.admit(couponId, [req(2)])).codes, [AdmitCode.NOT_OPEN]);
    const unknown = await scripts.admit(couponId + 1_000_000, [req(1)]);
    assert.deepEqual(unknown.codes, [AdmitCode.NOT_FOUND]);
    assert.equal(unknown.remaining, -1);
  });

  it('never resets stock already taken when the coupon is initialised again', async () => {
    await reset(couponId);
    await scripts.initCoupon(couponId, { ...open, total: 3 });
    await scripts.admit(couponId, [req(1)]);
    assert.equal(await scripts.initCoupon(couponId, { ...open, total: 3 }), 2);
  });

  it("claims a backlog's batch at once (more events than one HDEL slice), and still skips a released one among them", async () => {
    await reset(couponId);
    await scripts.initCoupon(couponId, { ...open, total: 20_000 });
    const reqs = Array.from({ length: 9_001 }, (_, i) => req(i + 1));
    for (let i = 0; i < reqs.length; i += 1_000) await scripts.admit(couponId, reqs.slice(i, i + 1_000));
    const first = reqs.slice(0, 4_500).map((r) => r.eventId);
    assert.deepEqual(
      await scripts.claim(couponId, first),
      first.map(() => true),
    );
    assert.equal(await redis.hlen(couponKeys(couponId).pending), 4_501, 'every claimed entry dropped, no other');

    const released = reqs[6_000]!;
    assert.equal(await scripts.release(couponId, released.eventId, released.userId), true);
    const rest = reqs.slice(4_500).map((r) => r.eventId);
    const claims = await scripts.claim(couponId, rest);
    assert.deepEqual(
      claims,
      rest.map((id) => id !== released.eventId),
    );
    assert.equal(await redis.hlen(couponKeys(couponId).pending), 0);
  });

  it('releases a pending admission once, and not after the consumer claimed it', async () => {
    await reset(couponId);
    await scripts.initCoupon(couponId, { ...open, total: 1 });
    const a = req(1);
    await scripts.admit(couponId, [a]);
    assert.equal(await scripts.release(couponId, a.eventId, 1), true);
    assert.equal(await scripts.release(couponId, a.eventId, 1), false);
    assert.equal(await redis.get(couponKeys(couponId).stock), '1');
    assert.deepEqual(await scripts.claim(couponId, [a.eventId]), [false], 'a released event must not be persisted');

    const b = req(2);
    assert.deepEqual((await scripts.admit(couponId, [b])).codes, [AdmitCode.ACCEPTED]);
    assert.deepEqual(await scripts.claim(couponId, [b.eventId]), [true]);
    assert.deepEqual(await scripts.claim(couponId, [b.eventId]), [true], 'a claim is idempotent for redelivery');
    assert.equal(await scripts.release(couponId, b.eventId, 2), false, 'claimed: the send did land');
    assert.equal(await redis.get(couponKeys(couponId).stock), '0');
  });

  it('adds stock to a known coupon only', async () => {
    await reset(couponId);
    await scripts.initCoupon(couponId, { ...open, total: 1 });
    assert.equal(await scripts.restock(couponId, 4), 5);
    assert.equal(await redis.hget(couponKeys(couponId).meta, 'total'), '5');
    assert.equal(await scripts.restock(couponId + 1_000_000, 4), -1);
  });

  it('keeps working after Redis forgets its scripts', async () => {
    await reset(couponId);
    await scripts.initCoupon(couponId, { ...open, total: 1 });
    await redis.script('FLUSH');
    assert.deepEqual((await scripts.admit(couponId, [req(1)])).codes, [AdmitCode.ACCEPTED]);
  });
});
