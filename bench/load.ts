/**
 * Load for the benchmarks: bench/loadgen (Go, standard library only, built into .data/tools/bin on
 * first use; its header says why not vegeta) run against a list of request paths, pinned to its
 * own core, and its answers read back. A Node generator would cost about as much CPU per request as
 * the API does, and on 2 cores could not offer more than the API serves.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile, round, sortedCopy } from '../tools/loadtest/stats.ts';
import { childrenCpuMs, processCpuMs } from './harness.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const TOOLS = join(ROOT, '.data', 'tools', 'bin');

/** The generator, built from bench/loadgen into .data/tools/bin when missing or older than its source. */
export function loadgen(log: (line: string) => void = () => undefined): string {
  const bin = join(TOOLS, 'loadgen');
  const source = join(ROOT, 'bench', 'loadgen', 'main.go');
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(source).mtimeMs) return bin;
  log('building bench/loadgen into .data/tools/bin (go build)');
  mkdirSync(TOOLS, { recursive: true });
  execFileSync('go', ['build', '-o', bin, '.'], { cwd: join(ROOT, 'bench', 'loadgen'), stdio: 'inherit' });
  return bin;
}

export interface Answer {
  status: number;
  /** From sent to answered. */
  latencyMs: number;
  /**
   * How late the generator sent it against the schedule of an open-model phase (0 in a closed
   * loop): a generator whose connections are all held by a slow API sends late, and that wait is the
   * API's latency too (coordinated omission, as wrk2 corrects for).
   */
  lateMs: number;
  /** When it was due (ms since the phase's start). */
  dueMs: number;
  /** When its answer (or failure) came (ms since the phase's start). */
  doneMs: number;
  code: string;
}

/**
 * How a phase sends: an open model at `rate` per second (0: a closed loop) over `conns` connections
 * for `seconds`; a closed loop with `requests` stops after that many instead.
 */
export interface Load {
  rate: number;
  seconds: number;
  conns: number;
  requests?: number;
  /** A closed loop's client answered 503 or 429 sends the same request again at once, as a person presses again. */
  retryRefused?: boolean;
}

export interface Attack {
  answers: Answer[];
  /** The generator's CPU over the phase, in cores (1 = one core all along). */
  generatorCores: number;
}

/** One phase of load: request i goes to paths[i mod n] at `base`, the generator confined to `cpus`. */
export async function attack(name: string, base: string, paths: string[], load: Load, cpus: string): Promise<Attack> {
  const dir = mkdtempSync(join(tmpdir(), `fcfs-bench-${name}-`));
  const targets = join(dir, 'paths.txt');
  const results = join(dir, 'results.csv');
  writeFileSync(targets, `${paths.join('\n')}\n`);
  const args = [
    `-addr=${new URL(base).host}`,
    `-targets=${targets}`,
    `-rate=${load.rate}`,
    `-duration=${load.seconds}s`,
    `-conns=${load.conns}`,
    `-requests=${load.requests ?? 0}`,
    '-timeout=30s',
    `-out=${results}`,
    ...(load.retryRefused ? ['-retry-refused'] : []),
  ];
  const child = spawn('taskset', ['-c', cpus, loadgen(), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const cpuBefore = childrenCpuMs();
  const started = performance.now();
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`loadgen ${name} exited ${code}: ${err}`);
  const generatorCores = (childrenCpuMs() - cpuBefore) / (performance.now() - started);
  // Columns: seq, due, sent, done (µs since the phase's start), status (0: no answer), code, error.
  const answers = readFileSync(results, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const f = line.split(',');
      const [due, sent, done, status] = [Number(f[1]), Number(f[2]), Number(f[3]), Number(f[4])];
      return {
        status,
        latencyMs: (done - sent) / 1000,
        lateMs: load.rate > 0 ? Math.max(0, sent - due) / 1000 : 0,
        dueMs: due / 1000,
        doneMs: done / 1000,
        code: f[5] || f[6] || '',
      };
    });
  return { answers, generatorCores };
}

/** Latencies from when each request was due, sorted. */
export const fromDue = (answers: Answer[]) => sortedCopy(answers.map((a) => a.lateMs + a.latencyMs));

/** A percentile (ms) for printing, '-' when there is nothing to take it of. */
export const pct = (xs: ArrayLike<number>, q: number) => (xs.length ? round(percentile(xs, q)) : '-');

/** Answers counted by status and code. */
export function tally(answers: Answer[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const a of answers) {
    const key = `${a.status} ${a.code}`.trim();
    t[key] = (t[key] ?? 0) + 1;
  }
  return t;
}

/** http_requests_shed_total by reason, as the API at `baseUrl` counts them now. */
export async function shedByReason(baseUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^http_requests_shed_total\{reason="([^"]+)"\} (\S+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

export interface MeasuredLoop<S = never> {
  answers: Answer[];
  /** From the first request to the last answer. */
  seconds: number;
  /** Answers per second, over `seconds`. */
  rps: number;
  /** The server process's CPU (every thread, from /proc) per measured request, µs; null off Linux. */
  serverCpuUsPerReq: number | null;
  /** The same for each fifth of the warm-up, in order: it falls while V8 still compiles the hot code. */
  warmupCpuUsPerReq: (number | null)[];
  /** The generator's CPU over the measured part, in cores. */
  generatorCores: number;
  /** process.hrtime in µs around the measured part (the clock V8's CPU profiles stamp samples with). */
  fromUs: number;
  toUs: number;
  /** What `snapshot` read just before and just after the measured part, when one was given. */
  snapshots?: { before: S; after: S };
}

/** Fifths of a warm-up: enough steps to see the server's cost settle. */
const WARMUP_STEPS = 5;

/**
 * A closed loop of `conns` connections: `warmup` requests first (the paths' first ones), then
 * `requests` measured, with the server's CPU (process `serverPid`) read around the measured part.
 * The warm-up is long because V8 keeps compiling a server's hot code for tens of thousands of
 * requests (Maglev, then TurboFan, on helper threads that count in the process's CPU): a short one
 * measured the compiler beside the server. Its trail, CPU per request for each fifth, shows
 * whether the cost had settled.
 */
export async function warmThenMeasure<S = never>(
  label: string,
  base: string,
  paths: string[],
  { warmup, requests, conns }: { warmup: number; requests: number; conns: number },
  serverPid: number | undefined,
  cpus: string,
  /** Read around the measured part (the API's /metrics, say), so the server's own figures cover it alone. */
  snapshot?: () => Promise<S>,
): Promise<MeasuredLoop<S>> {
  const warmupCpuUsPerReq: (number | null)[] = [];
  for (let step = 0; step < WARMUP_STEPS; step++) {
    const from = Math.round((warmup * step) / WARMUP_STEPS);
    const to = Math.round((warmup * (step + 1)) / WARMUP_STEPS);
    if (to <= from) continue;
    const before = processCpuMs(serverPid);
    await attack(`${label}-warmup`, base, paths.slice(from, to), { rate: 0, seconds: 600, conns, requests: to - from }, cpus);
    const after = processCpuMs(serverPid);
    warmupCpuUsPerReq.push(before !== null && after !== null ? round(((after - before) * 1000) / (to - from), 1) : null);
  }
  const snapshotBefore = await snapshot?.();
  const cpu0 = processCpuMs(serverPid);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const { answers, generatorCores } = await attack(
    label,
    base,
    paths.slice(warmup, warmup + requests),
    { rate: 0, seconds: 600, conns, requests },
    cpus,
  );
  const toUs = Number(process.hrtime.bigint() / 1000n);
  const cpu1 = processCpuMs(serverPid);
  const snapshotAfter = await snapshot?.();
  const seconds = answers.reduce((m, a) => Math.max(m, a.doneMs), 0) / 1000;
  return {
    answers,
    seconds,
    rps: Math.round(answers.length / seconds),
    serverCpuUsPerReq: cpu0 !== null && cpu1 !== null ? round(((cpu1 - cpu0) * 1000) / requests, 1) : null,
    warmupCpuUsPerReq,
    generatorCores,
    fromUs,
    toUs,
    ...(snapshotBefore !== undefined && snapshotAfter !== undefined ? { snapshots: { before: snapshotBefore, after: snapshotAfter } } : {}),
  };
}
