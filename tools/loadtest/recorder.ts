/**
 * Every request of a run, kept whole (a few numbers each, so a million requests fit easily), so
 * thresholds and report charts are computed exactly, not from pre-bucketed approximations.
 */
import { percentile, sortedCopy, summarizeTrend, type TrendSummary } from './stats.ts';

/** The answers k6/fcfs.ts marks as expected with http.expectedStatuses(202, 409): anything else counts in http_req_failed. */
export const EXPECTED_STATUSES: readonly number[] = [202, 409];

export interface SampleFilter {
  scenario?: string;
  status?: string;
  expected_response?: string;
}

export interface MetricSummary {
  /** The run's length, for per-second rates. */
  seconds: number;
  http_reqs: { count: number; rate: number };
  http_req_duration: TrendSummary;
  http_req_failed: { rate: number; fails: number; passes: number };
  http_5xx: { count: number };
  iterations: { count: number };
  dropped_iterations: { count: number };
}

export interface Series {
  /** Seconds from the start (bucket i covers [i, i+1) s, by when requests completed). */
  t: number[];
  rps: number[];
  p50: (number | null)[];
  p95: (number | null)[];
  p99: (number | null)[];
  /** Answers per second by "status code", e.g. "202 ACCEPTED", "409 SOLD_OUT", "0 ECONNRESET". */
  outcomes: Record<string, number[]>;
  /** VUs busy or looping (sampled each second), per scenario. */
  active: Record<string, number[]>;
  /** The schedule's line per scenario: VUs, or iterations per second for arrival-rate executors. */
  target: Record<string, number[]>;
}

export class Recorder {
  readonly scenarioNames: string[];
  readonly #expected: Set<number>;
  readonly start: number[] = [];
  readonly latency: number[] = [];
  readonly status: number[] = [];
  readonly scenario: number[] = [];
  readonly outcome: number[] = [];
  readonly outcomeNames: string[] = [];
  readonly #outcomeIds = new Map<string, number>();
  readonly dropped: number[];
  /** Sampled each second by the engine: [second, scenario index, active VUs, target]. */
  readonly activity: [number, number, number, number][] = [];
  /** Test time at which the run ended (for rates). */
  endMs = 0;

  constructor(scenarioNames: string[], expected: readonly number[] = EXPECTED_STATUSES) {
    this.scenarioNames = scenarioNames;
    this.#expected = new Set(expected);
    this.dropped = scenarioNames.map(() => 0);
  }

  get count(): number {
    return this.start.length;
  }

  add(scenario: number, startMs: number, latencyMs: number, status: number, outcome: string): void {
    let id = this.#outcomeIds.get(outcome);
    if (id === undefined) {
      id = this.outcomeNames.length;
      this.outcomeNames.push(outcome);
      this.#outcomeIds.set(outcome, id);
    }
    this.start.push(startMs);
    this.latency.push(latencyMs);
    this.status.push(status);
    this.scenario.push(scenario);
    this.outcome.push(id);
  }

  isFailed(i: number): boolean {
    return !this.#expected.has(this.status[i]!);
  }

  #matcher(filter: SampleFilter): (i: number) => boolean {
    const sc = filter.scenario === undefined ? -1 : this.scenarioNames.indexOf(filter.scenario);
    if (filter.scenario !== undefined && sc < 0) return () => false;
    const status = filter.status === undefined ? undefined : Number(filter.status);
    const expected = filter.expected_response === undefined ? undefined : filter.expected_response === 'true';
    return (i) =>
      (sc < 0 || this.scenario[i] === sc) &&
      (status === undefined || this.status[i] === status) &&
      (expected === undefined || !this.isFailed(i) === expected);
  }

  /** k6's built-in metrics (and this project's http_5xx) over the requests a filter selects. */
  metrics(filter: SampleFilter = {}): MetricSummary {
    const match = this.#matcher(filter);
    const durations: number[] = [];
    let count = 0;
    let fails = 0;
    let fivexx = 0;
    for (let i = 0; i < this.start.length; i++) {
      if (!match(i)) continue;
      count++;
      if (this.status[i]! > 0) durations.push(this.latency[i]!);
      if (this.isFailed(i)) fails++;
      if (this.status[i]! >= 500) fivexx++;
    }
    let dropped = 0;
    this.scenarioNames.forEach((name, i) => {
      if (filter.scenario === undefined || filter.scenario === name) dropped += this.dropped[i]!;
    });
    const seconds = Math.max(0.001, this.endMs / 1000);
    return {
      seconds,
      http_reqs: { count, rate: count / seconds },
      http_req_duration: summarizeTrend(durations),
      http_req_failed: { rate: count ? fails / count : 0, fails, passes: count - fails },
      http_5xx: { count: fivexx },
      iterations: { count },
      dropped_iterations: { count: dropped },
    };
  }

  /** Durations (ms) a filter selects, ascending. */
  durations(filter: SampleFilter = {}): Float64Array {
    const match = this.#matcher(filter);
    const out: number[] = [];
    for (let i = 0; i < this.start.length; i++) if (match(i) && this.status[i]! > 0) out.push(this.latency[i]!);
    return sortedCopy(out);
  }

  outcomeTotals(): Record<string, number> {
    const totals: Record<string, number> = {};
    for (const id of this.outcome) totals[this.outcomeNames[id]!] = (totals[this.outcomeNames[id]!] ?? 0) + 1;
    return Object.fromEntries(Object.entries(totals).sort((a, b) => b[1] - a[1]));
  }

  series(): Series {
    let last = this.endMs;
    for (let i = 0; i < this.start.length; i++) last = Math.max(last, this.start[i]! + this.latency[i]!);
    const n = Math.max(1, Math.ceil(last / 1000));
    const buckets: number[][] = Array.from({ length: n }, () => []);
    const outcomes: Record<string, number[]> = {};
    for (const name of this.outcomeNames) outcomes[name] = new Array<number>(n).fill(0);
    for (let i = 0; i < this.start.length; i++) {
      const b = Math.min(n - 1, Math.floor((this.start[i]! + this.latency[i]!) / 1000));
      if (this.status[i]! > 0) buckets[b]!.push(this.latency[i]!);
      outcomes[this.outcomeNames[this.outcome[i]!]!]![b]!++;
    }
    const pct = (p: number) => buckets.map((b) => (b.length ? percentile(sortedCopy(b), p) : null));
    const rps = new Array<number>(n).fill(0);
    for (const counts of Object.values(outcomes))
      counts.forEach((c, i) => {
        rps[i]! += c;
      });
    const active: Record<string, number[]> = {};
    const target: Record<string, number[]> = {};
    for (const name of this.scenarioNames) {
      active[name] = new Array<number>(n).fill(0);
      target[name] = new Array<number>(n).fill(0);
    }
    for (const [sec, sc, a, tg] of this.activity) {
      if (sec >= n) continue;
      const name = this.scenarioNames[sc]!;
      active[name]![sec] = a;
      target[name]![sec] = tg;
    }
    return { t: Array.from({ length: n }, (_, i) => i), rps, p50: pct(50), p95: pct(95), p99: pct(99), outcomes, active, target };
  }
}
