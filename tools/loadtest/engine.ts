/**
 * The load generator: runs resolved k6 scenarios against one base URL with undici's keep-alive
 * pool. VU executors loop (closed model: each VU waits for its answer, then thinks); arrival-rate
 * executors start iterations on a clock (open model: a slow answer does not slow the arrivals,
 * and an iteration that finds all maxVUs busy is dropped, as k6 counts dropped_iterations).
 * Every request takes the next unused user of its scenario's slice of the seed file.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { Recorder } from './recorder.ts';
import type { ResolvedScenario } from './scenario.ts';
import { arrivalTimes, levelAt, linearAt, vuSteps } from './schedule.ts';
import { percentile, sortedCopy } from './stats.ts';

export interface EngineOptions {
  baseUrl: string;
  scenarios: ResolvedScenario[];
  /** The request path for the user at `userIndex` (0-based, in the seed file). */
  path: (userIndex: number) => string;
  method?: string;
  headers?: Record<string, string>;
  /** Per request, like k6's default 60 s. */
  timeoutMs?: number;
  expectedStatuses?: readonly number[];
  signal?: AbortSignal;
  /** Called once a second with the seconds elapsed. */
  onTick?: (second: number, recorder: Recorder) => void;
}

export interface EngineResult {
  recorder: Recorder;
  /** Why the run stopped early, or null. */
  aborted: string | null;
  /** Requests cut off by a scenario's gracefulStop or an abort (not recorded, as k6 does not count interrupted iterations). */
  interrupted: number;
  /** How late arrival-rate iterations started against their schedule: a generator short of CPU shows here. */
  startLagMs: { p50: number; p99: number; max: number; count: number };
  startedAt: string;
  connections: number;
}

const CODE = /"(?:code|status)"\s*:\s*"([A-Z_]+)"/;

/** "202 ACCEPTED", "409 SOLD_OUT", "500", or "0 ECONNRESET" for no answer. */
/** How many times a virtual user presses again after being told to come back later. */
export const RETRIES = 3;

/** Retry-After in ms: whole seconds (or an HTTP date); 1 s when absent or unreadable. */
export function retryAfterOf(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return 1_000;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1_000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? 1_000 : Math.max(0, at - Date.now());
}

export function outcomeOf(status: number, body: string): string {
  const m = CODE.exec(body);
  return m ? `${status} ${m[1]}` : String(status);
}

/** Most requests at once the scenarios can have in flight (each VU holds at most one). */
export function maxConcurrency(scenarios: ResolvedScenario[]): number {
  let n = 0;
  for (const s of scenarios) {
    if (s.kind === 'arrival') n += s.maxVUs;
    else if (s.kind === 'iterations') n += s.vus;
    else n += Math.max(s.startValue, ...s.stages.map((st) => st.target));
  }
  return Math.max(1, n);
}

export async function runScenarios(opts: EngineOptions): Promise<EngineResult> {
  const { scenarios } = opts;
  const recorder = new Recorder(
    scenarios.map((s) => s.name),
    opts.expectedStatuses,
  );
  const connections = maxConcurrency(scenarios);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const pool = new Pool(opts.baseUrl, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: 10_000,
  });
  const method = (opts.method ?? 'POST') as 'POST';
  const headers = opts.headers ?? {};
  const stopAll = new AbortController();
  let aborted: string | null = null;
  let interrupted = 0;
  const lags: number[] = [];
  const abort = (reason: string) => {
    if (aborted === null) aborted = reason;
    stopAll.abort();
  };
  const onExternal = () => abort(`stopped: ${String(opts.signal?.reason ?? 'signal')}`);
  opts.signal?.addEventListener('abort', onExternal, { once: true });

  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const until = async (atMs: number, signal: AbortSignal) => {
    const wait = atMs - now();
    if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
  };

  const state = scenarios.map(() => ({ next: 0, active: 0, target: 0 }));
  const nextUser = (i: number): number => {
    const sc = scenarios[i]!;
    const st = state[i]!;
    if (st.next >= sc.users) {
      abort(`scenario ${sc.name} used all ${sc.users} users of its plan: seed more users or raise plan.${sc.name}.users`);
      return -1;
    }
    return sc.userOffset + st.next++;
  };

  /** One request; for a refusal (429, 503) how long it was told to wait before coming back (ms). */
  const fire = async (i: number, user: number, signal: AbortSignal): Promise<number | undefined> => {
    const started = now();
    let status = 0;
    let outcome: string;
    let retryAfterMs: number | undefined;
    try {
      const res = await pool.request({ method, path: opts.path(user), headers, signal });
      status = res.statusCode;
      outcome = outcomeOf(status, await res.body.text());
      if (status === 429 || status === 503) retryAfterMs = retryAfterOf(res.headers['retry-after']);
    } catch (err) {
      if (signal.aborted) {
        interrupted++;
        return undefined;
      }
      const e = err as { code?: string; name?: string };
      outcome = `0 ${e.code ?? e.name ?? 'ERROR'}`;
      status = 0;
    }
    recorder.add(i, started, now() - started, status, outcome);
    return retryAfterMs;
  };

  /**
   * A virtual user pressing "issue" for `user`: told to come back later (429, 503 with Retry-After),
   * it waits that long and presses again, up to RETRIES times, as a person would (k6/fcfs.ts does
   * the same).
   */
  const press = async (i: number, user: number, signal: AbortSignal): Promise<void> => {
    let retryAfterMs = await fire(i, user, signal);
    for (let r = 0; r < RETRIES && retryAfterMs !== undefined && !signal.aborted; r++) {
      await sleep(retryAfterMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) return;
      retryAfterMs = await fire(i, user, signal);
    }
  };

  const runVus = async (i: number, sc: ResolvedScenario, stop: AbortController) => {
    const st = state[i]!;
    const steps = vuSteps(sc.startValue, sc.stages);
    const alive: boolean[] = [];
    const loops = new Set<Promise<void>>();
    const loop = async (id: number) => {
      alive[id] = true;
      st.active++;
      try {
        while (!stop.signal.aborted && id < st.target) {
          const user = nextUser(i);
          if (user < 0) break;
          await press(i, user, stop.signal);
          if (sc.thinkMs > 0 && !stop.signal.aborted) await sleep(sc.thinkMs, undefined, { signal: stop.signal }).catch(() => undefined);
        }
      } finally {
        alive[id] = false;
        st.active--;
      }
    };
    const setTarget = (value: number) => {
      st.target = value;
      for (let id = 0; id < value; id++) {
        if (alive[id]) continue;
        const p = loop(id);
        loops.add(p);
        void p.finally(() => loops.delete(p));
      }
    };
    for (const step of steps) {
      await until(sc.startMs + step.atMs, stop.signal);
      if (stop.signal.aborted) break;
      setTarget(step.value);
    }
    await until(sc.startMs + sc.durationMs, stop.signal);
    st.target = 0;
    return loops;
  };

  const runArrivals = async (i: number, sc: ResolvedScenario, stop: AbortController) => {
    const st = state[i]!;
    const inflight = new Set<Promise<void>>();
    let sinceYield = 0;
    for (const at of arrivalTimes(sc.startValue, sc.stages, sc.timeUnitMs)) {
      const due = sc.startMs + at;
      if (due - now() >= 1) {
        await until(due, stop.signal);
        sinceYield = 0;
      } else if (++sinceYield >= 64) {
        // Behind schedule: still let answers in.
        await new Promise((r) => setImmediate(r));
        sinceYield = 0;
      }
      if (stop.signal.aborted) break;
      lags.push(Math.max(0, now() - due));
      if (st.active >= sc.maxVUs) {
        recorder.dropped[i]!++;
        continue;
      }
      const user = nextUser(i);
      if (user < 0) break;
      st.active++;
      // An arrival is one press: the open model's next arrival is someone else.
      const p: Promise<void> = fire(i, user, stop.signal)
        .then(() => undefined)
        .finally(() => {
          st.active--;
          inflight.delete(p);
        });
      inflight.add(p);
    }
    return inflight;
  };

  const runShared = async (i: number, sc: ResolvedScenario, stop: AbortController) => {
    const st = state[i]!;
    await until(sc.startMs, stop.signal);
    let started = 0;
    st.target = sc.vus;
    const deadline = setTimeout(() => stop.abort(), sc.durationMs);
    const loops = Array.from({ length: sc.vus }, async () => {
      st.active++;
      try {
        while (!stop.signal.aborted && started < sc.iterations) {
          started++;
          const user = nextUser(i);
          if (user < 0) break;
          await press(i, user, stop.signal);
          if (sc.thinkMs > 0) await sleep(sc.thinkMs, undefined, { signal: stop.signal }).catch(() => undefined);
        }
      } finally {
        st.active--;
      }
    });
    await Promise.all(loops);
    clearTimeout(deadline);
    st.target = 0;
    return new Set<Promise<void>>();
  };

  const ticker = setInterval(() => {
    const sec = Math.floor(now() / 1000);
    scenarios.forEach((sc, i) => {
      const local = now() - sc.startMs;
      let target = 0;
      if (local >= 0 && local <= sc.durationMs) {
        if (sc.kind === 'arrival') target = (linearAt(sc.startValue, sc.stages, local) * 1000) / sc.timeUnitMs;
        else if (sc.kind === 'vus') target = levelAt(vuSteps(sc.startValue, sc.stages), local);
        else target = state[i]!.target;
      }
      recorder.activity.push([sec, i, state[i]!.active, Math.round(target * 100) / 100]);
    });
    opts.onTick?.(sec, recorder);
  }, 1000);

  const startedAt = new Date().toISOString();
  try {
    await Promise.all(
      scenarios.map(async (sc, i) => {
        const stop = new AbortController();
        const onStop = () => stop.abort();
        stopAll.signal.addEventListener('abort', onStop, { once: true });
        const pending =
          sc.kind === 'vus'
            ? await runVus(i, sc, stop)
            : sc.kind === 'arrival'
              ? await runArrivals(i, sc, stop)
              : await runShared(i, sc, stop);
        // Let what is in flight finish, up to the scenario's gracefulStop; then cut it off.
        if (pending.size > 0) {
          const grace = sleep(sc.gracefulStopMs, undefined, { signal: stop.signal }).catch(() => undefined);
          await Promise.race([Promise.all(pending), grace]);
          stop.abort();
          await Promise.all(pending);
        }
        stopAll.signal.removeEventListener('abort', onStop);
      }),
    );
  } finally {
    clearInterval(ticker);
    opts.signal?.removeEventListener('abort', onExternal);
    recorder.endMs = now();
    await pool.close().catch(() => undefined);
  }
  const sortedLags = sortedCopy(lags);
  return {
    recorder,
    aborted,
    interrupted,
    startLagMs: {
      p50: percentile(sortedLags, 50),
      p99: percentile(sortedLags, 99),
      max: sortedLags.length ? sortedLags[sortedLags.length - 1]! : 0,
      count: lags.length,
    },
    startedAt,
    connections,
  };
}
