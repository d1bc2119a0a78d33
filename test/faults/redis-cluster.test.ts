import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCoupon } from '../../src/catalog/coupons.ts';
import { createUsers } from '../../src/catalog/users.ts';
import { AdmissionScripts } from '../../src/store/scripts.ts';
import { settleAndCheck, startStormApp, stopStormApp, stormDuring, type StormApp, type StormContext } from '../support/fault-storm.ts';
import { Client } from '../support/http.ts';
import { eventually, runToEnd } from '../support/processes.ts';
import { RedisClusterStack } from '../support/redis-cluster-stack.ts';

const PORT = 18_300;
const ADMIN = { authorization: 'Bearer test-admin-token-123' };

/**
 * The whole service on a real Redis Cluster (REDIS_CLUSTER_NODES): admission scripts by SHA, rate
 * limits, the user directory, pub/sub, seeding and reconciliation, with coupons on every master;
 * then a master SIGKILLed mid-storm while its replica takes over. Kafka and MariaDB are the shared
 * local ones.
 */
describe('on a Redis Cluster', { timeout: 600_000 }, () => {
  const cluster = new RedisClusterStack();
  let app: StormApp;

  before(async () => {
    await cluster.startFresh();
    app = await startStormApp(cluster.appEnv, PORT, { storm: { userPrefix: 'cluster-f', stormMs: 20_000 } });
  });

  after(async () => {
    await stopStormApp(app);
    await cluster.stop();
  });

  it('issues, sells out, restocks and reconciles coupons that live on three different masters', async () => {
    const { orm, redis, env } = app;
    const scripts = new AdmissionScripts(redis);
    // Coupon ids come from the database; take coupons until every master owns one.
    const byMaster = new Map<number, number>();
    for (let i = 0; i < 60 && byMaster.size < 3; i++) {
      const coupon = await createCoupon({ orm, redis, scripts }, { name: `cluster ${i}`, totalQuantity: 40 });
      const master = await cluster.masterOf(redis, `{coupon:${coupon.id}}:stock`);
      if (!byMaster.has(master)) byMaster.set(master, coupon.id);
    }
    assert.deepEqual([...byMaster.keys()].sort(), await cluster.masters(redis), 'a coupon on every master');
    const coupons = [...byMaster.values()];
    const users = await createUsers(
      orm,
      redis,
      Array.from({ length: 60 }, (_, i) => `cluster-u${i}`),
    );
    const client = new Client(`http://127.0.0.1:${PORT}`, 32);
    try {
      const issue = (couponId: number, i: number) => client.request('POST', `/api/coupons/${couponId}/issue-fcfs/${users[i]!.publicId}`);
      for (const couponId of coupons) {
        const replies = await Promise.all(users.map((_, i) => issue(couponId, i)));
        const codes = replies.map((r) => `${r.status} ${r.body?.code ?? ''}`.trim());
        assert.equal(codes.filter((c) => c === '202').length, 40, codes.join());
        assert.equal(codes.filter((c) => c === '409 SOLD_OUT').length, 20, codes.join());
        assert.equal((await issue(couponId, 0)).body?.code, 'ALREADY_ISSUED');
      }
      // Sold out is now answered from memory in both shard workers; adding stock must reach them
      // through pub/sub, whichever node the publisher and the subscribers are connected to.
      const first = coupons[0]!;
      const added = await client.request('POST', `/api/coupons/${first}/stock`, { add: 5 }, ADMIN);
      assert.equal(added.status, 200);
      const refused = users.map((_, i) => i);
      const admitted = await eventually(
        'the restocked coupon to admit again',
        async () => {
          let n = 0;
          for (const i of refused) if ((await issue(first, i)).status === 202) n++;
          return n > 0 ? n : undefined;
        },
        10_000,
      );
      assert.ok(admitted <= 5, `admitted ${admitted} of 5 added`);
    } finally {
      client.close();
    }
    for (const couponId of coupons) {
      await runToEnd('reconcile.ts', env, ['--coupon', String(couponId), '--grace-ms', '0', '--wait', '120']);
      const [count] = (await orm.em.getConnection().execute('select count(*) as n from user_coupons where coupon_id = ?', [couponId])) as {
        n: number;
      }[];
      // Every unit taken is a row: 40 of each, and of the first also what its restock let in.
      const total = couponId === coupons[0] ? 45 : 40;
      assert.equal(Number(count!.n), total - Number(await redis.get(`{coupon:${couponId}}:stock`)));
    }
    // Seeding (users in bulk and a coupon) goes through the cluster too.
    const out = join(mkdtempSync(join(tmpdir(), 'cluster-seed-')), 'users.json');
    await runToEnd('seed.ts', env, ['--users', '50', '--stock', '7', '--out', out]);
    const seeded = JSON.parse(readFileSync(out, 'utf8')) as { couponId: number; publicIds: string[] };
    assert.equal(seeded.publicIds.length, 50);
    assert.equal(await redis.get(`{coupon:${seeded.couponId}}:stock`), '7');
  });

  it('promises nothing its master alone holds: with its replica dead, admissions are given back and answered 503', async () => {
    const { orm, redis, env } = app;
    const scripts = new AdmissionScripts(redis);
    const coupon = await createCoupon({ orm, redis, scripts }, { name: 'no replica', totalQuantity: 10 });
    const [alice] = await createUsers(orm, redis, ['cluster-no-replica']);
    const key = `{coupon:${coupon.id}}:stock`;
    const replicas = await cluster.replicasOf(redis, key);
    const client = new Client(`http://127.0.0.1:${PORT}`);
    const issue = () => client.request('POST', `/api/coupons/${coupon.id}/issue-fcfs/${alice!.publicId}`);
    try {
      for (const replica of replicas) await cluster.kill(replica);
      const refused = await issue();
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(refused.body.code, 'UNAVAILABLE');
      assert.equal(await redis.get(key), '10', 'the unit was given back');
      await cluster.start();
      const accepted = await eventually(
        'the replica back, and the admission promised',
        async () => {
          const r = await issue();
          return r.status === 202 ? r : undefined;
        },
        30_000,
        250,
      );
      assert.ok(accepted.body.requestId);
      assert.equal(await redis.get(key), '9');
    } finally {
      client.close();
    }
    await runToEnd('reconcile.ts', env, ['--coupon', String(coupon.id), '--grace-ms', '0', '--wait', '120']);
  });

  it('the master owning the storm coupon SIGKILLed: its replica takes over, every promise kept', () => masterKilled(cluster, app.ctx));
});

/**
 * Two replicas a master: the promoted replica still has one, so admissions are acknowledged by a
 * replica again as soon as the slot has moved, without waiting for the dead node to come back.
 */
describe('on a Redis Cluster with two replicas a master', { timeout: 600_000 }, () => {
  const cluster = new RedisClusterStack({ firstPort: 7111, replicasPerMaster: 2 });
  let app: StormApp;

  before(async () => {
    await cluster.startFresh();
    app = await startStormApp(cluster.appEnv, PORT + 1, { storm: { userPrefix: 'cluster2-f', stormMs: 20_000 } });
  });

  after(async () => {
    await stopStormApp(app);
    await cluster.stop();
  });

  it('the master owning the storm coupon SIGKILLed: a replica takes over, every promise kept', () => masterKilled(cluster, app.ctx));
});

async function masterKilled(cluster: RedisClusterStack, ctx: StormContext): Promise<void> {
  const { redis } = ctx;
  let killed = 0;
  let promoted = 0;
  const { coupon, results, faultAt, recoveredAt } = await stormDuring(ctx, async (strike, c) => {
    const key = `{coupon:${c.id}}:stock`;
    killed = await cluster.masterOf(redis, key);
    await strike();
    await cluster.kill(killed);
    promoted = await eventually(
      'a replica to take over the slot',
      async () => {
        const now = await cluster.masterOf(redis, key).catch(() => killed);
        return now !== killed ? now : undefined;
      },
      30_000,
      100,
    );
    // With one replica a master, the promoted node has none left and every admission's WAIT fails
    // until the dead node is back as its replica: that restart is part of the recovery. With two,
    // the other replica is enough, and the dead node stays down.
    if (cluster.replicasPerMaster === 1) await cluster.start();
  });
  assert.notEqual(promoted, killed);
  const figures = await settleAndCheck(
    ctx,
    `redis master ${killed} killed (${cluster.replicasPerMaster} replica(s) a master), ${promoted} promoted`,
    coupon.id,
    results,
    faultAt,
    recoveredAt,
  );
  assert.ok(figures.servedShare > 0, 'the storm was served');
}
