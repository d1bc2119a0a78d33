/**
 * What the runner watches beside its own requests, once a second: the coupon's remaining units and
 * issued count (GET /api/coupons/{id}), and the consumer's lag from Prometheus (sum(consumer_lag)),
 * which is "N/A" when Prometheus cannot be reached or does not scrape this consumer.
 */
import type { CouponView } from '../../src/catalog/coupons.ts';

export interface StockPoint {
  t: number;
  remaining: number;
  issuedCount: number;
}

export interface LagPoint {
  t: number;
  lag: number;
}

export interface MonitorResult {
  stock: StockPoint[];
  /** null: no lag figures (see lagNote). */
  lag: LagPoint[] | null;
  lagNote: string;
}

export async function getCoupon(baseUrl: string, couponId: number, timeoutMs = 5_000): Promise<CouponView | null> {
  const res = await fetch(`${baseUrl}/api/coupons/${couponId}`, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`GET /api/coupons/${couponId}: ${res.status} ${await res.text()}`);
  return (await res.json()) as CouponView;
}

/** The PromQL for the lag: of one topic's consumers when the topic is known, else of all. */
export function lagQuery(topic: string | null): string {
  return topic ? `sum(consumer_lag{topic=${JSON.stringify(topic)}})` : 'sum(consumer_lag)';
}

/** The lag now; undefined when Prometheus answers but has no such series, throws when unreachable. */
export async function queryLag(prometheusUrl: string, query = lagQuery(null), timeoutMs = 800): Promise<number | undefined> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) throw new Error(`Prometheus answered ${res.status}`);
  const body = (await res.json()) as { status: string; data?: { result?: { value?: [number, string] }[] } };
  const value = body.data?.result?.[0]?.value?.[1];
  return value === undefined ? undefined : Number(value);
}

export interface MonitorOptions {
  baseUrl: string;
  couponId: number;
  prometheusUrl: string | null;
  /** The topic whose consumer lag to chart (the API's KAFKA_TOPIC); null: all topics. */
  kafkaTopic?: string | null;
  everyMs?: number;
}

export class Monitor {
  readonly #stock: StockPoint[] = [];
  readonly #lag: LagPoint[] = [];
  #lagNote = '';
  #lagSeen = false;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  readonly #t0 = performance.now();

  readonly opts: MonitorOptions;
  readonly query: string;

  constructor(opts: MonitorOptions) {
    this.opts = opts;
    this.query = lagQuery(opts.kafkaTopic ?? null);
  }

  async start(): Promise<void> {
    if (this.opts.prometheusUrl === null) this.#lagNote = 'N/A: Prometheus disabled (--prometheus none)';
    else {
      try {
        await queryLag(this.opts.prometheusUrl, this.query, 2_000);
      } catch (err) {
        this.#lagNote = `N/A: Prometheus at ${this.opts.prometheusUrl} not reachable (${(err as Error).message})`;
      }
    }
    await this.#poll();
    this.#timer = setInterval(() => void this.#poll(), this.opts.everyMs ?? 1_000);
  }

  async #poll(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    const t = (performance.now() - this.#t0) / 1000;
    try {
      await Promise.all([
        getCoupon(this.opts.baseUrl, this.opts.couponId, 900)
          .then((c) => {
            if (c) this.#stock.push({ t, remaining: c.remaining, issuedCount: c.issuedCount });
          })
          .catch(() => undefined),
        this.#lagNote === '' && this.opts.prometheusUrl !== null
          ? queryLag(this.opts.prometheusUrl, this.query)
              .then((lag) => {
                if (lag !== undefined) {
                  this.#lagSeen = true;
                  this.#lag.push({ t, lag });
                }
              })
              .catch(() => undefined)
          : Promise.resolve(),
      ]);
    } finally {
      this.#busy = false;
    }
  }

  /** Seconds since the monitor started (to align with the engine's clock when started together). */
  elapsed(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  async stop(): Promise<MonitorResult> {
    clearInterval(this.#timer);
    await this.#poll();
    let note = this.#lagNote;
    if (note === '' && !this.#lagSeen) note = `N/A: Prometheus has no series for ${this.query} (it does not scrape this run's consumer)`;
    return { stock: this.#stock, lag: note === '' ? this.#lag : null, lagNote: note };
  }
}
