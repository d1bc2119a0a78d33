import { readFileSync } from 'node:fs';
import type { Redis } from './redis.ts';
import { couponKeys } from './keys.ts';

/**
 * The admission Lua scripts, each read once from its own .lua file (which documents its KEYS, ARGV
 * and return codes) and called by SHA through ioredis's defineCommand, which reloads a script by
 * itself when Redis forgot it (after a restart). `keys: null`: the call gives its number of keys
 * first (admit.lua takes four per coupon).
 */
const SCRIPTS = {
  fcfsAdmit: { file: 'admit.lua', keys: null },
  fcfsRelease: { file: 'release.lua', keys: 4 },
  fcfsClaim: { file: 'claim.lua', keys: 2 },
  fcfsInitCoupon: { file: 'init-coupon.lua', keys: 2 },
  fcfsRestock: { file: 'restock.lua', keys: 2 },
  fcfsRateWindow: { file: 'rate-window.lua', keys: 1 },
} as const;

type ScriptName = keyof typeof SCRIPTS;

const sources = Object.fromEntries(
  Object.entries(SCRIPTS).map(([name, { file }]) => [name, readFileSync(new URL(`./scripts/${file}`, import.meta.url), 'utf8')]),
) as Record<ScriptName, string>;

type Caller = (...args: (string | number)[]) => Promise<unknown>;

function callerFor(redis: Redis, name: ScriptName): Caller {
  const r = redis as unknown as Record<string, Caller | undefined>;
  if (typeof r[name] !== 'function') {
    const keys = SCRIPTS[name].keys;
    redis.defineCommand(name, keys === null ? { lua: sources[name] } : { numberOfKeys: keys, lua: sources[name] });
  }
  return (r[name] as Caller).bind(redis);
}

export const AdmitCode = {
  ACCEPTED: 1,
  ALREADY_ISSUED: 0,
  SOLD_OUT: -1,
  NOT_OPEN: -2,
  NOT_FOUND: -3,
} as const;
export type AdmitCode = (typeof AdmitCode)[keyof typeof AdmitCode];

export interface AdmitRequest {
  userId: number;
  eventId: string;
  eventJson: string;
}

export interface AdmitResult {
  /** Units left after the batch; -1 when the coupon is unknown to Redis. */
  remaining: number;
  codes: AdmitCode[];
  /**
   * Whether the replicas asked for (AdmissionScriptsOptions.waitReplicas) hold the batch; always
   * true when none are asked for.
   */
  replicated: boolean;
}

/** One coupon's share of an admission call. */
export interface CouponBatch {
  couponId: number;
  requests: readonly AdmitRequest[];
}

export interface AdmissionScriptsOptions {
  /** Replicas that must acknowledge an admission batch (Redis WAIT) before it counts as replicated; 0: none. */
  waitReplicas?: number;
  /** How long WAIT may block, ms. */
  waitTimeoutMs?: number;
}

export interface CouponState {
  total: number;
  startsAtMs: number;
  endsAtMs: number;
  name: string;
}

/** Typed calls of the admission scripts on one Redis connection. */
export class AdmissionScripts {
  readonly #redis: Redis;
  readonly #waitReplicas: number;
  readonly #waitTimeoutMs: number;
  readonly #admit: Caller;
  readonly #release: Caller;
  readonly #claim: Caller;
  readonly #init: Caller;
  readonly #restock: Caller;
  readonly #rateWindow: Caller;

  constructor(redis: Redis, { waitReplicas = 0, waitTimeoutMs = 100 }: AdmissionScriptsOptions = {}) {
    this.#redis = redis;
    this.#waitReplicas = waitReplicas;
    this.#waitTimeoutMs = waitTimeoutMs;
    this.#admit = callerFor(redis, 'fcfsAdmit');
    this.#release = callerFor(redis, 'fcfsRelease');
    this.#claim = callerFor(redis, 'fcfsClaim');
    this.#init = callerFor(redis, 'fcfsInitCoupon');
    this.#restock = callerFor(redis, 'fcfsRestock');
    this.#rateWindow = callerFor(redis, 'fcfsRateWindow');
  }

  /** Counts a request in a fixed window: { count so far, ms left in the window }. */
  async countInWindow(key: string, windowMs: number): Promise<{ count: number; resetMs: number }> {
    const [count, resetMs] = (await this.#rateWindow(key, windowMs)) as [number, number];
    return { count, resetMs };
  }

  /** One atomic step for a batch of one coupon's requests. `nowMs` 0 uses Redis's clock. */
  async admit(couponId: number, requests: readonly AdmitRequest[], nowMs = 0): Promise<AdmitResult> {
    return (await this.#admitCall([{ couponId, requests }], nowMs))[0]!;
  }

  /**
   * Every coupon's batch admitted, each atomically, results in the order given. One call for them
   * all on a single Redis (its cost per call, in the client and in Redis, is most of a small
   * batch's); one call per coupon on a cluster, where each coupon's keys are in a slot of their own.
   */
  admitMany(batches: readonly CouponBatch[], nowMs = 0): Promise<AdmitResult[]> {
    if (batches.length <= 1 || !this.#redis.isCluster) return this.#admitCall(batches, nowMs);
    return Promise.all(batches.map((b) => this.admit(b.couponId, b.requests, nowMs)));
  }

  async #admitCall(batches: readonly CouponBatch[], nowMs: number): Promise<AdmitResult[]> {
    if (batches.length === 0) return [];
    const args: (string | number)[] = [batches.length * 4];
    for (const { couponId } of batches) {
      const k = couponKeys(couponId);
      args.push(k.stock, k.meta, k.users, k.pending);
    }
    args.push(nowMs);
    for (const b of batches) args.push(b.requests.length);
    for (const b of batches) for (const r of b.requests) args.push(r.userId, r.eventId, r.eventJson);
    if (this.#waitReplicas === 0) return splitResults(batches, (await this.#admit(...args)) as number[], true);
    // WAIT in the same pipeline: on a cluster the pipeline goes whole to the master owning the
    // coupon's slot, so WAIT counts that connection's writes, this batch's included.
    const pipeline = this.#redis.pipeline();
    (pipeline as unknown as Record<'fcfsAdmit', (...args: (string | number)[]) => unknown>).fcfsAdmit(...args);
    const [[admitErr, out], [waitErr, acked]] = (await pipeline.wait(this.#waitReplicas, this.#waitTimeoutMs).exec()) as [
      [Error | null, number[]],
      [Error | null, number],
    ];
    if (admitErr) throw admitErr;
    // A WAIT that failed leaves the batch unconfirmed, which is what matters: it is treated as not replicated.
    return splitResults(batches, out, !waitErr && acked >= this.#waitReplicas);
  }

  /** True when the admission was given back; false when the consumer already took the event. */
  async release(couponId: number, eventId: string, userId: number): Promise<boolean> {
    const k = couponKeys(couponId);
    return (await this.#release(k.stock, k.users, k.pending, k.released, eventId, userId)) === 1;
  }

  /** For each event id, whether the consumer should persist it (false: it was released). */
  async claim(couponId: number, eventIds: readonly string[]): Promise<boolean[]> {
    const k = couponKeys(couponId);
    const out = (await this.#claim(k.pending, k.released, ...eventIds)) as number[];
    return out.map((flag) => flag === 1);
  }

  /** Creates the coupon's state if absent and refreshes its metadata; returns units left. */
  async initCoupon(couponId: number, state: CouponState): Promise<number> {
    const k = couponKeys(couponId);
    return (await this.#init(k.stock, k.meta, state.total, state.startsAtMs, state.endsAtMs, state.name)) as number;
  }

  /** Adds units; returns units left, or -1 when the coupon has no state in Redis. */
  async restock(couponId: number, add: number): Promise<number> {
    const k = couponKeys(couponId);
    return (await this.#restock(k.stock, k.meta, add)) as number;
  }
}

/** admit.lua's flat answer, { remaining, codes... } per coupon in order, cut into one result each. */
function splitResults(batches: readonly CouponBatch[], out: number[], replicated: boolean): AdmitResult[] {
  let at = 0;
  return batches.map((b) => {
    const remaining = out[at]!;
    const codes = out.slice(at + 1, at + 1 + b.requests.length) as AdmitCode[];
    at += 1 + b.requests.length;
    return { remaining, codes, replicated };
  });
}
