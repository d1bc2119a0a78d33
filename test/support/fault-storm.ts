import assert from 'node:assert/strict';
import { AdmissionScripts } from '../../src/store/scripts.ts';
import { createCoupon } from '../../src/catalog/coupons.ts';
import { createUsers } from '../../src/catalog/users.ts';
import type { Config } from '../../src/config.ts';
import type { Orm } from '../../src/store/database/orm.ts';
import type { Redis } from '../../src/store/redis.ts';
import { testConfig, testEnv } from './env.ts';
import { Client } from './http.ts';
import { eventually, run, startApi, type Proc } from './processes.ts';
import { createTestTopics, openTestOrm, openTestRedis } from './services.ts';
import { percentile } from './storm.ts';

/**
 * A storm through the public API while a fault strikes, and the invariants after it: every 202 is
 * exactly one row, no user twice, issued + remaining = total, reconciliation consistent. Shared by
 * the single-node fault tests and the cluster's.
 */
export interface StormContext {
  orm: Orm;
  redis: Redis;
  /** The environment the API and the consumer run with (reconcile runs with it too). */
  env: Record<string, string>;
  /** The API's port. */
  port: number;
  stock?: number;
  userPrefix?: string;
  /** Coupons the storm spreads over (1 by default); the first is the one the fault is aimed at. */
  coupons?: number;
  /**
   * The storm lasts at least this long from its first wave, however soon the system recovers, so
   * the share served is of a storm of known length (the availability target is for 20 s).
   */
  stormMs?: number;
}

/** The app a fault test storms (the API and its consumers, each a process of its own) and the test's own database and Redis clients. */
export interface StormApp {
  env: Record<string, string>;
  config: Config;
  orm: Orm;
  redis: Redis;
  /** Replaced by a test that kills or stops it and starts another. */
  api: Proc;
  consumers: Proc[];
  ctx: StormContext;
}

/**
 * Starts the app on the services `services` points at (a stack's appEnv): two shards, consumers
 * apart from the API so a test can kill either. `storm` adds to the StormContext handed to stormDuring.
 */
export async function startStormApp(
  services: Record<string, string>,
  port: number,
  { consumers = 1, env: extra = {}, storm = {} }: { consumers?: number; env?: Record<string, string>; storm?: Partial<StormContext> } = {},
): Promise<StormApp> {
  const env = testEnv({ ...services, PORT: String(port), SHARDS: '2', START_CONSUMER: 'false', CONSUMER_METRICS_PORT: '0', ...extra });
  const config = testConfig(env);
  await createTestTopics(config);
  const orm = await openTestOrm(config);
  const redis = await openTestRedis(config);
  const procs = Array.from({ length: consumers }, () => run('consumer.ts', env));
  try {
    const api = await startApi(env);
    return { env, config, orm, redis, api, consumers: procs, ctx: { orm, redis, env, port, ...storm } };
  } catch (err) {
    await Promise.all(procs.map((c) => c.stop()));
    redis.disconnect();
    await orm.close().catch(() => undefined);
    throw err;
  }
}

/** Stops what startStormApp started (nothing, if it never finished). */
export async function stopStormApp(app: StormApp | undefined): Promise<void> {
  if (!app) return;
  await Promise.all([app.api.stop(), ...app.consumers.map((c) => c.stop())]);
  app.redis.disconnect();
  await app.orm.close().catch(() => undefined);
}

export interface Answer {
  couponId: number;
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
 * Fires waves of issue requests (random known users, so repeats too) every 100 ms while `fault`
 * runs, then a little longer. `fault` calls `await strike()` just before it strikes: that waits
 * until a wave has just been sent, so the fault lands on requests in flight, and marks the time.
 */
export async function stormDuring(
  ctx: StormContext,
  fault: (strike: () => Promise<void>, coupon: { id: number }, all: { id: number }[]) => Promise<void>,
) {
  const { orm, redis, port: PORT } = ctx;
  const coupons = [];
  for (let i = 0; i < (ctx.coupons ?? 1); i++) {
    coupons.push(
      await createCoupon({ orm, redis, scripts: new AdmissionScripts(redis) }, { name: 'fault', totalQuantity: ctx.stock ?? 4_000 }),
    );
  }
  const coupon = coupons[0]!;
  const users = await createUsers(
    orm,
    redis,
    Array.from({ length: 3_000 }, (_, i) => `${ctx.userPrefix ?? 'f'}${i}`),
  );
  const client = new Client(`http://127.0.0.1:${PORT}`, 64);
  const answers: Promise<Answer>[] = [];
  let firing = true;
  let faultAt = Number.POSITIVE_INFINITY;
  const waveSent: (() => void)[] = [];
  const firstWave = performance.now();
  const waves = (async () => {
    while (firing) {
      for (let i = 0; i < 60; i++) {
        const user = users[Math.floor(Math.random() * users.length)]!;
        const couponId = coupons[i % coupons.length]!.id;
        const startedAt = performance.now();
        answers.push(
          client.request('POST', `/api/coupons/${couponId}/issue-fcfs/${user.publicId}`).then(
            (r) => ({
              couponId,
              status: r.status,
              code: r.body?.code,
              requestId: r.body?.requestId,
              retryAfter: r.headers['retry-after'] as string | undefined,
              startedAt,
              endedAt: performance.now(),
              latencyMs: r.latencyMs,
            }),
            () => ({ couponId, status: 0, startedAt, endedAt: performance.now(), latencyMs: performance.now() - startedAt }),
          ),
        );
      }
      for (const notify of waveSent.splice(0)) notify();
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await new Promise((r) => setTimeout(r, 1_500));
  await fault(
    async () => {
      await new Promise<void>((resolve) => waveSent.push(resolve));
      faultAt = performance.now();
    },
    coupon,
    coupons,
  );
  await eventually(
    'the API to be ready again',
    async () => (await fetch(`http://127.0.0.1:${PORT}/health/ready`)).status === 200,
    120_000,
    250,
  );
  const recoveredAt = performance.now();
  const until = Math.max(recoveredAt + 1_500, firstWave + (ctx.stormMs ?? 0));
  await new Promise((r) => setTimeout(r, until - performance.now()));
  firing = false;
  await waves;
  const results = await Promise.all(answers);
  client.close();
  return { coupon, coupons, results, faultAt, recoveredAt };
}

/** The invariants, and the figures for the closing note. */
export async function settleAndCheck(
  ctx: StormContext,
  name: string,
  couponId: number,
  results: Answer[],
  faultAt: number,
  recoveredAt: number,
  { allowDropped = false, print = true } = {},
) {
  const { orm, redis, env } = ctx;
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
  const accepted = results.filter((r) => r.status === 202 && r.couponId === couponId);
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
  // Availability: how long requests were refused (or got no answer) after the fault, from the
  // first such answer to the last, and the share of the storm served (202 or 409).
  const refusedAt = results.filter((r) => r.status === 503 || r.status === 0).map((r) => r.endedAt);
  const figures = {
    refusedForMs: refusedAt.length > 0 ? Math.round(Math.max(...refusedAt) - Math.min(...refusedAt)) : 0,
    // Refusals can come in bursts with service between them: the seconds that had any.
    secondsWithRefusals: new Set(refusedAt.map((t) => Math.floor(t / 1000))).size,
    servedShare: Number((results.filter((r) => r.status === 202 || r.status === 409).length / results.length).toFixed(4)),
  };
  if (print)
    console.log(
      `fault ${name}:`,
      JSON.stringify({
        ...figures,
        requests: results.length,
        inFlightAtFault: inFlight,
        sentDuringOutage: results.filter((r) => r.startedAt >= faultAt && r.startedAt <= recoveredAt).length,
        accepted202: accepted.length,
        rowsPersisted: rows.length,
        unavailable503: unavailable.length,
        p99Of503Ms: unavailable.length ? Math.round(percentile(unavailable, 99)) : null,
        noAnswer: results.filter((r) => r.status === 0).length,
        // Refusals per second after the fault (answer time): when refusals come back late, whose they are.
        refusedBySecond: Object.fromEntries(
          [...Map.groupBy(refusedAt, (t) => Math.floor((t - faultAt) / 1000))].map(([second, list]) => [second, list.length]),
        ),
      }),
    );
  return figures;
}
