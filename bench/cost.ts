/**
 * `npm run bench:cost [-- --requests N] [--warmup W] [--connections C] [--profiler perf|v8] [--no-record]`
 *
 * Where a request's CPU goes. The bare route (a), the admitted path (b) and the sold-out path (c),
 * as `npm run bench` drives them (the Go generator on core 0, C connections, N requests after W of
 * warm-up, the API without shedding), each server sampled by a profiler: Linux `perf` where it
 * works (on-CPU samples of every thread, kernel included: bench/perf.ts), else `node --cpu-prof`
 * (wall-clock samples of the JavaScript threads). Only the samples taken while the measured N
 * requests ran are counted (both stamp samples with process.hrtime's clock), so start-up, seeding
 * and warm-up are left out; each sample goes to the part of the system whose code asked for it
 * (bench/profile.ts: HTTP and sockets, Fastify, the thread hop, overload control, rate limiting,
 * Redis, Kafka, metrics, logging, GC...). Printed as CPU µs per request, main thread, shard workers
 * and V8's helper threads apart, beside the process's CPU per request from /proc (the profiler's
 * own cost is in the latter). Appended to bench/results.json.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { machineInfo, readSeedFile } from '../tools/loadtest/runner.ts';
import { round } from '../tools/loadtest/stats.ts';
import { testConfig } from '../tools/harness/env.ts';
import { createTestTopics } from '../tools/harness/services.ts';
import { apiReady, freePort, isolatedEnv, ready, seed, spawnNode } from './harness.ts';
import { loadgen, tally, warmThenMeasure } from './load.ts';
import { costBreakdownsOf } from './profile.ts';
import { PERF_NODE_FLAGS, perfCategory, perfLeaf, perfSamples, perfWorks, recordPerf, removePerfMaps, type PerfRecording } from './perf.ts';

const RESULTS = new URL('./results.json', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '30000' },
    connections: { type: 'string', default: '64' },
    profiler: { type: 'string' },
    'no-record': { type: 'boolean', default: false },
  },
});
const N = Number(values.requests);
const WARMUP = Number(values.warmup);
const C = Number(values.connections);
const GEN_CPU = '0';
const PROFILER = values.profiler ?? (perfWorks() ? 'perf' : 'v8');
if (PROFILER !== 'perf' && PROFILER !== 'v8') throw new Error(`--profiler is perf or v8, not ${PROFILER}`);
const API_PORT = 18_097;
const BARE_PORT = 18_096;
const work = mkdtempSync(join(tmpdir(), 'fcfs-cost-'));
const log = (line: string) => console.error(`[cost] ${line}`);

interface Case {
  case: string;
  rps: number;
  /** The server process's CPU per request from /proc, profiler included. */
  processUsPerReq: number | null;
  /** Profiled CPU per request, by thread kind and category (V8's helper threads only under perf). */
  mainUs: Record<string, number>;
  workerUs: Record<string, number>;
  helperUs?: Record<string, number>;
  /** The costliest sampled frames of each category, µs per request (all threads). */
  frames: Record<string, [string, number][]>;
  generatorCpuPct: number;
  outcomes: Record<string, number>;
}

type Profiled = 'mainUs' | 'workerUs' | 'helperUs' | 'frames';

async function measure(
  label: string,
  base: string,
  paths: string[],
  pid: number,
): Promise<{ from: number; to: number; row: Omit<Case, Profiled> }> {
  const m = await warmThenMeasure(label, base, paths, { warmup: WARMUP, requests: N, conns: C }, pid, GEN_CPU);
  const row = {
    case: label,
    rps: m.rps,
    processUsPerReq: m.serverCpuUsPerReq,
    generatorCpuPct: Math.round(m.generatorCores * 100),
    outcomes: tally(m.answers),
  };
  log(
    `${label}: ${row.rps} req/s, ${row.processUsPerReq} µs CPU/request (profiled), generator ${row.generatorCpuPct} %; ${JSON.stringify(row.outcomes)}`,
  );
  return { from: m.fromUs, to: m.toUs, row };
}

/** The window's V8 samples of every JavaScript thread of `pid`, in µs per request by category, main thread and workers apart. */
function attributeV8(dir: string, pid: number, from: number, to: number): Pick<Case, Profiled> {
  const mainUs: Record<string, number> = {};
  const workerUs: Record<string, number> = {};
  const frameUs = new Map<string, Map<string, number>>();
  const profiles = costBreakdownsOf(dir, pid, from, to);
  if (profiles.length === 0) throw new Error(`no CPU profile of process ${pid} in ${dir}`);
  for (const p of profiles) {
    const into = p.threadId === 0 ? mainUs : workerUs;
    for (const [category, ms] of p.byCategory) into[category] = round((into[category] ?? 0) + (ms * 1000) / N, 1);
    for (const [category, frames] of p.byFrame) {
      const into = frameUs.get(category) ?? new Map<string, number>();
      for (const [frame, ms] of frames) into.set(frame, (into.get(frame) ?? 0) + (ms * 1000) / N);
      frameUs.set(category, into);
    }
  }
  return { mainUs, workerUs, frames: topFrames(frameUs) };
}

/** The window's perf samples of every thread of `pid`, in µs per request by category and kind of thread. */
function attributePerf(
  recording: PerfRecording,
  pid: number,
  from: number,
  to: number,
  processUsPerReq: number | null,
): Pick<Case, Profiled> {
  if (processUsPerReq === null) throw new Error(`no CPU figure of process ${pid} from /proc to share out`);
  const samples = perfSamples(recording.file, pid, from, to);
  if (samples.length === 0) throw new Error(`no perf samples of process ${pid} in ${recording.file}`);
  // perf samples each thread at a fixed rate of its CPU time: each sample stands for an equal share
  // of what /proc says the process used over the window.
  const usPerSample = processUsPerReq / samples.length;
  const into = { main: {} as Record<string, number>, worker: {} as Record<string, number>, helper: {} as Record<string, number> };
  const frameUs = new Map<string, Map<string, number>>();
  for (const sample of samples) {
    const category = perfCategory(sample);
    const by = into[sample.thread];
    by[category] = (by[category] ?? 0) + usPerSample;
    const frames = frameUs.get(category) ?? new Map<string, number>();
    const leaf = perfLeaf(sample);
    frames.set(leaf, (frames.get(leaf) ?? 0) + usPerSample);
    frameUs.set(category, frames);
  }
  const rounded = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v, 1)]));
  return { mainUs: rounded(into.main), workerUs: rounded(into.worker), helperUs: rounded(into.helper), frames: topFrames(frameUs) };
}

function topFrames(frameUs: Map<string, Map<string, number>>): Case['frames'] {
  return Object.fromEntries(
    [...frameUs].map(([category, m]) => [
      category,
      [...m]
        .sort((x, y) => y[1] - x[1])
        .slice(0, 6)
        .map(([f, us]): [string, number] => [f, round(us, 1)]),
    ]),
  );
}

const machine = machineInfo();
loadgen(log);
log(
  `${machine.cpuModel} × ${machine.cpus}, Node ${machine.node}, commit ${machine.commit}; ${N} requests after ${WARMUP} warm-up, ${C} connections`,
);
const uuids = Array.from({ length: WARMUP + N }, () => randomUUID());
const cases: Case[] = [];

/** A server to profile: its node flags, and once started, how its samples are read back. */
function profiled(dir: string): {
  flags: string[];
  start: (pid: number) => Promise<void>;
  attribute: Attribute;
  stop: () => Promise<void>;
} {
  if (PROFILER === 'v8') {
    return {
      flags: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
      start: async () => undefined,
      // Profiles are written as the process and its threads exit, which a graceful stop lets them do.
      attribute: (pid, w) => attributeV8(dir, pid, w.from, w.to),
      stop: async () => undefined,
    };
  }
  let recording: PerfRecording | undefined;
  return {
    flags: PERF_NODE_FLAGS,
    start: async (pid) => {
      mkdirSync(dir, { recursive: true });
      recording = await recordPerf(pid, join(dir, 'perf.data'));
    },
    attribute: (pid, w) => attributePerf(recording!, pid, w.from, w.to, w.row.processUsPerReq),
    stop: async () => {
      await recording?.stop();
    },
  };
}
type Window = Awaited<ReturnType<typeof measure>>;
type Attribute = (pid: number, w: Window) => Pick<Case, Profiled>;
const started = Date.now();

// (a) The bare route.
if (!(await freePort(BARE_PORT))) throw new Error(`port ${BARE_PORT} is taken`);
const bareProfile = profiled(join(work, 'bare'));
const bare = spawnNode([...bareProfile.flags, 'bench/bare-server.ts'], {
  ...(process.env as Record<string, string>),
  PORT: String(BARE_PORT),
});
await ready('the bare server', bare, `http://127.0.0.1:${BARE_PORT}/`);
await bareProfile.start(bare.child.pid!);
const bareRun = await measure(
  '(a) bare Fastify route',
  `http://127.0.0.1:${BARE_PORT}`,
  uuids.map((u) => `/api/coupons/1/issue-fcfs/${u}`),
  bare.child.pid!,
);
await bareProfile.stop();
await bare.stop();
cases.push({ ...bareRun.row, ...bareProfile.attribute(bare.child.pid!, bareRun) });

// (b) and (c) on the API, isolated like the tests, without shedding (as `npm run bench` measures them).
if (!(await freePort(API_PORT))) throw new Error(`port ${API_PORT} is taken`);
// On data of its own (isolatedEnv says why).
const { env, database } = await isolatedEnv('coupons_cost', 9, {
  PORT: String(API_PORT),
  START_CONSUMER: 'true',
  CONSUMER_METRICS_PORT: '0',
  LOG_LEVEL: 'warn',
});
await createTestTopics(testConfig(env));
const files = { admitted: join(work, 'admitted.json'), soldOut: join(work, 'sold-out.json') };
log('seeding users and coupons');
await seed(env, WARMUP + N, WARMUP + N, files.admitted);
await seed(env, WARMUP + N + 1, 1, files.soldOut);
const apiProfile = profiled(join(work, 'api'));
const api = spawnNode([...apiProfile.flags, '--disable-warning=TimeoutNegativeWarning', 'src/cli/start.ts'], {
  ...env,
  MAX_IN_FLIGHT: '0',
  MAX_EVENT_LOOP_DELAY_MS: '0',
});
const base = `http://127.0.0.1:${API_PORT}`;
const windows: Window[] = [];
try {
  await apiReady(api, base);
  // The shard workers run by now: perf follows the threads that exist when it attaches.
  await apiProfile.start(api.child.pid!);
  const a = readSeedFile(files.admitted);
  windows.push(
    await measure(
      '(b) issue route, admitted',
      base,
      a.publicIds.slice(0, WARMUP + N).map((id) => `/api/coupons/${a.couponId}/issue-fcfs/${id}`),
      api.child.pid!,
    ),
  );
  const s = readSeedFile(files.soldOut);
  const first = await fetch(`${base}/api/coupons/${s.couponId}/issue-fcfs/${s.publicIds[0]}`, { method: 'POST' });
  if (first.status !== 202) throw new Error(`(c) the one unit was not admitted: ${first.status}`);
  windows.push(
    await measure(
      '(c) issue route, sold out',
      base,
      s.publicIds.slice(1, WARMUP + N + 1).map((id) => `/api/coupons/${s.couponId}/issue-fcfs/${id}`),
      api.child.pid!,
    ),
  );
} finally {
  await apiProfile.stop();
  await api.stop();
  await database.drop();
}
for (const w of windows) cases.push({ ...w.row, ...apiProfile.attribute(api.child.pid!, w) });
// perf script has read the symbol maps the servers wrote; they go now.
if (PROFILER === 'perf') removePerfMaps(started);

// The table: one line per category, µs of CPU per request.
const kinds = (c: Case) => [c.mainUs, c.workerUs, c.helperUs ?? {}];
const partUs = (c: Case, cat: string) => kinds(c).reduce((n, r) => n + (r[cat] ?? 0), 0);
const total = (r: Record<string, number>) => Object.values(r).reduce((x, y) => x + y, 0);
const caseUs = (c: Case) => kinds(c).reduce((n, r) => n + total(r), 0);
const categories = [...new Set(cases.flatMap((c) => kinds(c).flatMap((r) => Object.keys(r))))];
categories.sort((x, y) => cases.reduce((n, c) => n + partUs(c, y) - partUs(c, x), 0));
const pad = (s: string | number, n: number) => String(s).padStart(n);
const cell = (v: number | undefined) => (v ? v.toFixed(1) : '-');
const [ca, cb, cc] = cases as [Case, Case, Case];
const helpers = PROFILER === 'perf';
/** A column of the table: its heading, its figure for a part (or the sum), and the case whose total it is. */
interface Column {
  head: string;
  get: (cat?: string) => number | undefined;
  totalOf?: Case;
}
const sumOf = (r: Record<string, number> | undefined) => (cat?: string) => (cat ? r?.[cat] : total(r ?? {}));
const totalOf =
  (c: Case): Column['get'] =>
  (cat) =>
    cat ? partUs(c, cat) : caseUs(c);
// Per case: the main thread, the shard workers, V8's helper threads (compiler, GC; perf only), all.
const columnsOf = (label: string, c: Case): Column[] => [
  { head: `${label} main`, get: sumOf(c.mainUs) },
  { head: `${label} shards`, get: sumOf(c.workerUs) },
  ...(helpers ? [{ head: `${label} V8 thr.`, get: sumOf(c.helperUs) }] : []),
  { head: `${label} total`, get: totalOf(c), totalOf: c },
];
const columns: Column[] = [{ head: '(a) bare', get: totalOf(ca), totalOf: ca }, ...columnsOf('(b)', cb), ...columnsOf('(c)', cc)];
const W = 13;
const line = (name: string, cat?: string) => `${name.padEnd(30)}${columns.map((col) => pad(cell(col.get(cat)), W)).join('')}`;
/** A figure of each case as a whole, under its total column. */
const atCase = (name: string, get: (c: Case) => string | number | null) =>
  `${name.padEnd(30)}${columns.map((col) => pad(col.totalOf ? (get(col.totalOf) ?? '-') : '', W)).join('')}`;
console.log(
  [
    `CPU µs per request, profiled by ${PROFILER === 'perf' ? 'perf (on-CPU samples of every thread, kernel included)' : 'V8 (wall-clock samples of the JavaScript threads, idle excluded)'}; ${N} requests after ${WARMUP} warm-up, ${C} connections`,
    `${'part'.padEnd(30)}${columns.map((col) => pad(col.head, W)).join('')}`,
    ...categories.map((cat) => line(cat, cat)),
    line('sum (profiled)'),
    atCase('process CPU from /proc', (c) => c.processUsPerReq),
    atCase('req/s under the profiler', (c) => c.rps),
    atCase('generator % of core 0', (c) => c.generatorCpuPct),
    '',
    'The admitted path, costliest sampled frames of each part (µs per request, all threads):',
    ...categories.flatMap((cat) => [
      `  ${cat}: ${partUs(cb, cat).toFixed(1)}`,
      ...(cb.frames[cat] ?? []).map(([f, us]) => `      ${us.toFixed(1).padStart(5)}  ${f}`),
    ]),
    '',
    ...(helpers
      ? [
          "perf samples every thread at a fixed rate of its CPU time, so each sample is an equal share of /proc's figure,",
          'which the parts add up to; a syscall or the kernel work it starts belongs to the code that made it.',
        ]
      : [
          'V8 samples on a wall clock: a thread that wakes another on its core (a task posted to a shard worker, a socket',
          'write) is often preempted inside that call, and sampled there when it runs again, so those frames also hold',
          "time spent waiting for the core; /proc's line is the CPU.",
        ]),
    '',
    `admitted ÷ bare, profiled CPU: ${round(caseUs(cb) / caseUs(ca), 2)} (target <= 2); sold out ÷ bare: ${round(caseUs(cc) / caseUs(ca), 2)}`,
  ].join('\n'),
);

if (!values['no-record']) {
  const history = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as { runs: unknown[] }) : { runs: [] };
  history.runs.push({
    bench: 'cost',
    at: new Date().toISOString(),
    machine,
    settings: { requests: N, warmup: WARMUP, connections: C },
    profiler: PROFILER,
    cases,
  });
  mkdirSync(new URL('./', import.meta.url).pathname, { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(history, null, 2)}\n`);
  log(`appended to ${RESULTS}`);
}
process.exit(0);
