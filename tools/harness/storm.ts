/**
 * Storms of issue requests at the local API: users and coupons made through the service's own
 * catalog code, a mix of known, unknown and malformed requests fired at once, and a summary of the
 * answers. The end-to-end tests assert on them (test/support/storm.ts); bench/ measures with them.
 */
import { randomUUID } from 'node:crypto';
import { AdmissionScripts } from '../../src/store/scripts.ts';
import { createCoupon } from '../../src/catalog/coupons.ts';
import { createUsers } from '../../src/catalog/users.ts';
import type { Orm } from '../../src/store/database/orm.ts';
import type { Redis } from '../../src/store/redis.ts';
import { percentile } from '../loadtest/stats.ts';
import type { Client, Reply } from './http.ts';

/** The p-th percentile of ascending values, as k6 and the load runner compute it. */
export { percentile };

export type Kind = 'known' | 'unknown' | 'malformed';

export interface StormRequest {
  kind: Kind;
  couponId: number | string;
  publicId: string;
}

export interface StormResult {
  request: StormRequest;
  /** 0 when the connection failed (the server died). */
  status: number;
  body: any;
  at: number;
  latencyMs: number;
}

export interface Storm {
  coupons: { id: number; stock: number }[];
  publicIds: string[];
  requests: StormRequest[];
}

/** Users and coupons of a storm, made through the same catalog code the API uses. */
export async function prepareStorm(orm: Orm, redis: Redis, opts: { users: number; stocks: number[]; requests: number }): Promise<Storm> {
  const scripts = new AdmissionScripts(redis);
  const users = await createUsers(
    orm,
    redis,
    Array.from({ length: opts.users }, (_, i) => `storm-${i}`),
  );
  const coupons = [];
  for (const stock of opts.stocks) {
    const c = await createCoupon({ orm, redis, scripts }, { name: `storm ${stock}`, totalQuantity: stock });
    coupons.push({ id: c.id, stock });
  }
  const publicIds = users.map((u) => u.publicId);
  const malformed = ['not-a-uuid', '12345', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz', `${randomUUID()}x`, '%20'];
  const requests: StormRequest[] = [];
  for (let i = 0; i < opts.requests; i++) {
    const coupon = coupons[i % coupons.length]!.id;
    const roll = i % 20;
    if (roll === 0) {
      // Malformed: a bad user id, or a bad coupon id with a good user.
      requests.push(
        i % 40 === 0
          ? { kind: 'malformed', couponId: 'abc', publicId: publicIds[i % publicIds.length]! }
          : { kind: 'malformed', couponId: coupon, publicId: malformed[i % malformed.length]! },
      );
    } else if (roll === 1 || roll === 2) {
      requests.push({ kind: 'unknown', couponId: coupon, publicId: randomUUID() });
    } else {
      // Known users, picked at random: many ask more than once, for one coupon or both.
      requests.push({ kind: 'known', couponId: coupon, publicId: publicIds[Math.floor(Math.random() * publicIds.length)]! });
    }
  }
  return { coupons, publicIds, requests };
}

/** Fires every request at once (the agent caps sockets; the rest queue client-side). */
export async function fire(clients: Client[], requests: StormRequest[], onResult?: (done: number) => void): Promise<StormResult[]> {
  let done = 0;
  return Promise.all(
    requests.map(async (request, i) => {
      const started = performance.now();
      let reply: Reply | undefined;
      try {
        reply = await clients[i % clients.length]!.request('POST', `/api/coupons/${request.couponId}/issue-fcfs/${request.publicId}`);
      } catch {
        reply = undefined;
      }
      const at = performance.now();
      onResult?.(++done);
      return { request, status: reply?.status ?? 0, body: reply?.body, at, latencyMs: reply?.latencyMs ?? at - started };
    }),
  );
}

export function summarize(results: StormResult[], elapsedMs: number) {
  const latencies = results
    .filter((r) => r.status > 0)
    .map((r) => r.latencyMs)
    .sort((a, b) => a - b);
  const byStatus: Record<string, number> = {};
  for (const r of results)
    byStatus[`${r.status} ${r.body?.code ?? r.body?.status ?? ''}`.trim()] =
      (byStatus[`${r.status} ${r.body?.code ?? r.body?.status ?? ''}`.trim()] ?? 0) + 1;
  return {
    requests: results.length,
    seconds: +(elapsedMs / 1000).toFixed(2),
    rps: Math.round(results.length / (elapsedMs / 1000)),
    p50: +percentile(latencies, 50).toFixed(1),
    p95: +percentile(latencies, 95).toFixed(1),
    p99: +percentile(latencies, 99).toFixed(1),
    byStatus,
  };
}
