import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { AdmissionOutcome } from '../../src/admission/outcome.ts';
import { loadConfig } from '../../src/config.ts';
import { shardOf } from '../../src/shards/hash.ts';
import { ShardRouter } from '../../src/shards/router.ts';

const WORKER = new URL('./echo-worker.ts', import.meta.url).href;
const config = loadConfig({ NODE_ENV: 'test' });

/** The echo worker's request id: thread, batch, place in the batch, coupon, user. */
function served(outcome: AdmissionOutcome) {
  assert.equal(outcome.result, 'ACCEPTED');
  const [thread, batch, place, coupon, user] = (outcome as { requestId: string }).requestId.split(':');
  return { thread: Number(thread), batch: Number(batch), place: Number(place), coupon: Number(coupon), user: user! };
}

describe('ShardRouter (with an echo worker: no I/O)', () => {
  const routers: ShardRouter[] = [];
  after(async () => {
    for (const r of routers) await r.close();
  });
  const router = (opts: Partial<ConstructorParameters<typeof ShardRouter>[0]> = {}) => {
    const r = new ShardRouter({ config, shards: 2, worker: WORKER, ...opts });
    routers.push(r);
    return r;
  };

  it('sends every request of a coupon to the one thread that owns it, in arrival order, batched per turn', async () => {
    const r = router();
    const coupons = [1, 2, 3, 4, 5, 6];
    const outcomes = await Promise.all(
      coupons.flatMap((c) => Array.from({ length: 50 }, (_, i) => r.admit({ couponId: c, publicId: `u${i}` }).then(served))),
    );
    const threadOf = new Map<number, Set<number>>();
    for (const o of outcomes) threadOf.set(o.coupon, (threadOf.get(o.coupon) ?? new Set()).add(o.thread));
    for (const c of coupons) assert.equal(threadOf.get(c)!.size, 1, `coupon ${c} on one thread`);
    // Coupons of one shard share a thread; of two shards, two threads.
    const byShard = new Map(coupons.map((c) => [shardOf(c, 2), [...threadOf.get(c)!][0]]));
    for (const c of coupons) assert.equal([...threadOf.get(c)!][0], byShard.get(shardOf(c, 2)));
    // One turn's requests leave together: within a coupon, users in the order they arrived.
    for (const c of coupons) {
      const mine = outcomes.filter((o) => o.coupon === c);
      assert.equal(new Set(mine.map((o) => o.batch)).size, 1, `coupon ${c}: one batch`);
      assert.deepEqual(
        mine.map((o) => o.user),
        Array.from({ length: 50 }, (_, i) => `u${i}`),
      );
      assert.deepEqual(
        mine.map((o) => o.place),
        [...mine.map((o) => o.place)].sort((a, b) => a - b),
      );
    }
  });

  it('keeps arrival order when the worker is busy: waiting requests leave in batches of at most maxBatch, oldest first', async () => {
    const r = router({ shards: 1, maxBatch: 10, concurrentBatches: 1 });
    const outcomes = await Promise.all(Array.from({ length: 35 }, (_, i) => r.admit({ couponId: 7, publicId: `w${i}` }).then(served)));
    assert.deepEqual(
      outcomes.map((o) => o.user),
      Array.from({ length: 35 }, (_, i) => `w${i}`),
    );
    const sizes = new Map<number, number>();
    for (const o of outcomes) sizes.set(o.batch, (sizes.get(o.batch) ?? 0) + 1);
    assert.deepEqual([...sizes.values()], [10, 10, 10, 5]);
  });

  it('answers UNAVAILABLE to what waited past maxQueueWaitMs, oldest first, without sending it to the worker', async () => {
    const shedCounts: number[] = [];
    const waits: number[] = [];
    const r = router({
      shards: 1,
      maxBatch: 1,
      concurrentBatches: 1,
      maxQueueWaitMs: 250,
      onShed: (n) => shedCounts.push(n),
      onDispatch: (w) => waits.push(...w),
    });
    await r.admit({ couponId: 1, publicId: 'warm' }); // the worker thread is up
    waits.length = 0;
    // Each request of coupon 999 keeps the worker 100 ms: the eighth in line would wait 700 ms.
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => r.admit({ couponId: 999, publicId: `s${i}` })));
    const results = outcomes.map((o) => o.result);
    assert.equal(results[0], 'ACCEPTED', `the head is served: ${results}`);
    assert.ok(results.includes('UNAVAILABLE'), `the tail waited past the deadline: ${results}`);
    const firstShed = results.indexOf('UNAVAILABLE');
    assert.ok(
      results.slice(firstShed).every((x) => x === 'UNAVAILABLE'),
      `never a later arrival served after an earlier one was shed: ${results}`,
    );
    assert.equal(
      shedCounts.reduce((a, b) => a + b, 0),
      results.filter((x) => x === 'UNAVAILABLE').length,
    );
    assert.equal(waits.length, results.filter((x) => x === 'ACCEPTED').length, 'only what was sent was timed');
  });

  it('close() lets every queued request finish first', async () => {
    const r = new ShardRouter({ config, shards: 1, worker: WORKER, maxBatch: 5, concurrentBatches: 1 });
    const pending = Array.from({ length: 23 }, (_, i) => r.admit({ couponId: 8, publicId: `c${i}` }));
    await r.close();
    const outcomes = await Promise.all(pending);
    assert.equal(outcomes.filter((o) => o.result === 'ACCEPTED').length, 23);
  });
});
