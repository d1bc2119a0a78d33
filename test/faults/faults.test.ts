import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AdmissionScripts } from '../../src/store/scripts.ts';
import { createCoupon } from '../../src/catalog/coupons.ts';
import { createUsers } from '../../src/catalog/users.ts';
import type { Config } from '../../src/config.ts';
import type { Orm } from '../../src/store/database/orm.ts';
import type { Redis } from '../../src/store/redis.ts';
import { testConfig, testEnv } from '../support/env.ts';
import { FaultStack, type Service } from '../support/fault-stack.ts';
import { Client } from '../support/http.ts';
import { eventually, run, startApi, type Proc } from '../support/processes.ts';
import { createTestTopics, openTestOrm, openTestRedis, testKafka } from '../support/services.ts';
import { percentile } from '../support/storm.ts';

const PORT = 18_200;

interface Answer {
  status: number;
  code?: string;
  requestId?: string;
  retryAfter?: string;
  startedAt: number;
  /** When the answer (or the failure) came back, on the same clock as startedAt. */
  endedAt: number;
  latencyMs: number;
}

/**
 * Real processes stopped with real signals during a running storm, each ending with the
 * invariants: every 202 is exactly one row, no user twice, issued + remaining = total, and
 * reconciliation consistent. The services here are a private copy (FaultStack).
 */
describe('faults during a storm', { timeout: 900_000 }, () => {
  const stack = new FaultStack();
  let env: Record<string, string>;
  let orm: Orm;
  let redis: Redis;
  let api: Proc;
  let consumer: Proc;
  let config: Config;

  before(async () => {
    await stack.startAll();
    env = testEnv({ ...stack.appEnv, PORT: String(PORT), SHARDS: '2', START_CONSUMER: 'false', CONSUMER_METRICS_PORT: '0' });
    config = testConfig(env);
    await createTestTopics(config);
    orm = await openTestOrm(config);
    redis = await openTestRedis(config);
    consumer = run('consumer.ts', env);
    api = await startApi(env);
  });

  after(async () => {
    await Promise.all([api?.stop(), consumer?.stop()]);
    redis?.disconnect();
    await orm?.close().catch(() => undefined);
    await stack.stopAll();
  });

  /**
   * Fires waves of issue requests (random known users, so repeats too) every 100 ms while `fault`
   * runs, then a little longer. `fault` calls `await strike()` just before it strikes: that waits
   * until a wave has just been sent, so the fault lands on requests in flight, and marks the time.
   */
  async function stormDuring(fault: (strike: () => Promise<void>) => Promise<void>) {
    const coupon = await createCoupon({ orm, redis, scripts: new AdmissionScripts(redis) }, { name: 'fault', totalQuantity: 4_000 });
    const users = await createUsers(
      orm,
      redis,
      Array.from({ length: 3_000 }, (_, i) => `f${i}`),
    );
    const client = new Client(`http://127.0.0.1:${PORT}`, 64);
    const answers: Promise<Answer>[] = [];
    let firing = true;
    let faultAt = Number.POSITIVE_INFINITY;
    const waveSent: (() => void)[] = [];
    const waves = (async () => {
      while (firing) {
        for (let i = 0; i < 60; i++) {
          const user = users[Math.floor(Math.random() * users.length)]!;
          const startedAt = performance.now();
          answers.push(
            client.request('POST', `/api/coupons/${coupon.id}/issue-fcfs/${user.publicId}`).then(
              (r) => ({
                status: r.status,
                code: r.body?.code,
                requestId: r.body?.requestId,
                retryAfter: r.headers['retry-after'] as string | undefined,
                startedAt,
                endedAt: performance.now(),
                latencyMs: r.latencyMs,
              }),
              () => ({ status: 0, startedAt, endedAt: performance.now(), latencyMs: performance.now() - startedAt }),
            ),
          );
        }
        for (const notify of waveSent.splice(0)) notify();
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await new Promise((r) => setTimeout(r, 1_500));
    await fault(async () => {
      await new Promise<void>((resolve) => waveSent.push(resolve));
      faultAt = performance.now();
    });
    await eventually(
      'the API to be ready again',
      async () => (await fetch(`http://127.0.0.1:${PORT}/health/ready`)).status === 200,
      120_000,
      250,
    );
    const recoveredAt = performance.now();
    await new Promise((r) => setTimeout(r, 1_500));
    firing = false;
    await waves;
    const results = await Promise.all(answers);
    client.close();
    return { coupon, results, faultAt, recoveredAt };
  }

  /** A fault for stormDuring: takes a service away (a clean stop or a SIGKILL) and brings it back. */
  function outage(service: Service, how: 'stop' | 'kill', downMs: number) {
    return async (strike: () => Promise<void>) => {
      await strike();
      await stack[how](service);
      await new Promise((r) => setTimeout(r, downMs));
      await stack.start(service);
    };
  }

  /** The invariants, and the figures for the closing note. */
  async function settleAndCheck(
    name: string,
    couponId: number,
    results: Answer[],
    faultAt: number,
    recoveredAt: number,
    { allowDropped = false } = {},
  ) {
    for (const r of results) {
      if (r.status === 0) assert.ok(allowDropped, `${name}: a request got no answer`);
      else if (r.status >= 500) {
        assert.equal(r.status, 503, `${name}: ${r.status} ${r.code}`);
        assert.equal(r.code, 'UNAVAILABLE');
        assert.ok(Number(r.retryAfter) >= 1, `${name}: 503 without Retry-After`);
      } else assert.ok([202, 409].includes(r.status), `${name}: unexpected ${r.status} ${r.code}`);
    }
    const reconcile = run('reconcile.ts', env, ['--coupon', String(couponId), '--grace-ms', '0', '--wait', '180']);
    const code = await new Promise<number | null>((resolve) => reconcile.child.on('exit', resolve));
    assert.equal(code, 0, `${name}: reconcile\n${reconcile.output().slice(-3000)}`);

    const rows = (await orm.em.getConnection().execute('select event_id, user_id from user_coupons where coupon_id = ?', [couponId])) as {
      event_id: string;
      user_id: number;
    }[];
    const eventIds = new Set(rows.map((r) => r.event_id));
    const accepted = results.filter((r) => r.status === 202);
    for (const r of accepted) assert.ok(eventIds.has(r.requestId!), `${name}: 202 ${r.requestId} has no row`);
    assert.equal(new Set(rows.map((r) => r.user_id)).size, rows.length, `${name}: a user holds two rows`);
    const coupon = (await orm.em
      .getConnection()
      .execute('select total_quantity as total, issued_count as issued from coupons where id = ?', [couponId])) as {
      total: number;
      issued: number;
    }[];
    const remaining = Number(await redis.get(`{coupon:${couponId}}:stock`));
    assert.equal(Number(coupon[0]!.issued), rows.length, `${name}: issued_count`);
    assert.equal(Number(coupon[0]!.issued) + remaining, Number(coupon[0]!.total), `${name}: issued + remaining = total`);

    const unavailable = results
      .filter((r) => r.status === 503)
      .map((r) => r.latencyMs)
      .sort((a, b) => a - b);
    const inFlight = results.filter((r) => r.startedAt <= faultAt && r.endedAt >= faultAt).length;
    console.log(
      `fault ${name}:`,
      JSON.stringify({
        requests: results.length,
        inFlightAtFault: inFlight,
        sentDuringOutage: results.filter((r) => r.startedAt >= faultAt && r.startedAt <= recoveredAt).length,
        accepted202: accepted.length,
        rowsPersisted: rows.length,
        unavailable503: unavailable.length,
        p99Of503Ms: unavailable.length ? Math.round(percentile(unavailable, 99)) : null,
        noAnswer: results.filter((r) => r.status === 0).length,
      }),
    );
  }

  it('Kafka broker killed (SIGKILL) and restarted', async () => {
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(outage('kafka', 'kill', 3_000));
    assert.ok(
      results.some((r) => r.status === 503),
      'the outage was seen as 503s',
    );
    await settleAndCheck('kafka killed', coupon.id, results, faultAt, recoveredAt);
  });

  it('a poison message in the topic goes to the dead-letter topic while the storm flows', async () => {
    const kafka = testKafka(config);
    const dlq = kafka.consumer({ groupId: `${config.kafka.consumerGroup}-dlq-${Date.now()}` });
    const dead: { value: string; reason: string }[] = [];
    await dlq.connect();
    await dlq.subscribe({ topic: config.kafka.deadLetterTopic, fromBeginning: true });
    await dlq.run({
      eachMessage: async ({ message }) => {
        dead.push({ value: message.value?.toString() ?? '', reason: message.headers?.['x-dead-letter-reason']?.toString() ?? '' });
      },
    });
    const poison = `poison ${Date.now()}: not an issue event`;
    try {
      const { coupon, results, faultAt, recoveredAt } = await stormDuring(async (strike) => {
        const producer = kafka.producer();
        await producer.connect();
        await strike();
        // On every partition, so it sits in front of whatever partition the storm's coupon uses.
        await producer.send({
          topic: config.kafka.topic,
          acks: -1,
          messages: Array.from({ length: config.kafka.partitions }, (_, partition) => ({ partition, value: poison })),
        });
        await producer.disconnect();
        await new Promise((r) => setTimeout(r, 1_500));
      });
      await eventually(
        'the poison in the dead-letter topic',
        async () => dead.filter((d) => d.value === poison).length === config.kafka.partitions,
        60_000,
      );
      assert.ok(
        dead.filter((d) => d.value === poison).every((d) => /malformed/.test(d.reason)),
        JSON.stringify(dead.slice(0, 3)),
      );
      await settleAndCheck('poison message', coupon.id, results, faultAt, recoveredAt);
    } finally {
      await dlq.disconnect();
    }
  });

  it('Redis restarted (AOF keeps every admission)', async () => {
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(outage('redis', 'stop', 2_000));
    await settleAndCheck('redis restarted', coupon.id, results, faultAt, recoveredAt);
  });

  it('Redis killed (SIGKILL) and restarted: what it acknowledged was in the AOF before the reply', async () => {
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(outage('redis', 'kill', 2_000));
    await settleAndCheck('redis killed', coupon.id, results, faultAt, recoveredAt);
  });

  it('MariaDB stopped while the consumer writes, then started', async () => {
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(outage('mariadb', 'stop', 4_000));
    await settleAndCheck('mariadb stopped', coupon.id, results, faultAt, recoveredAt);
  });

  it('consumer killed mid-batch (SIGKILL) and restarted', async () => {
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(async (strike) => {
      await strike();
      await consumer.kill();
      await new Promise((r) => setTimeout(r, 2_000));
      consumer = run('consumer.ts', env);
    });
    await settleAndCheck('consumer killed', coupon.id, results, faultAt, recoveredAt);
  });

  it('API killed with SIGKILL and restarted', async () => {
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(async (strike) => {
      await strike();
      await api.kill();
      api = await startApi(env);
    });
    await settleAndCheck('api killed', coupon.id, results, faultAt, recoveredAt, { allowDropped: true });
  });

  it('API stopped with SIGTERM: in-flight requests finish, nothing promised is lost', async () => {
    let exit: { code: number | null; signal: string | null } | undefined;
    let stopped: Proc | undefined;
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(async (strike) => {
      stopped = api;
      const exited = new Promise<typeof exit>((resolve) => stopped!.child.once('exit', (code, signal) => resolve({ code, signal })));
      await strike();
      stopped.child.kill('SIGTERM');
      exit = await exited;
      api = await startApi(env);
    });
    assert.deepEqual(exit, { code: 0, signal: null }, `a graceful shutdown exits 0 within its bound:\n${stopped?.output().slice(-3000)}`);
    await settleAndCheck('api sigterm', coupon.id, results, faultAt, recoveredAt, { allowDropped: true });
  });
});
