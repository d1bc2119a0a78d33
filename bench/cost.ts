/**
 * `npm run bench:cost [-- --requests N] [--warmup W] [--connections C] [--no-record]`
 *
 * Where a request's CPU goes. The bare route (a), the admitted path (b) and the sold-out path (c),
 * as `npm run bench` drives them (the Go generator on core 0, C connections, N requests after W of
 * warm-up, the API without shedding), each server under `node --cpu-prof`. Only the samples taken
 * while the measured N requests ran are counted (V8 stamps samples with process.hrtime's clock),
 * so start-up, seeding and warm-up are left out; each sample goes to the part of the system whose
 * code asked for it (bench/profile.ts: HTTP and sockets, Fastify, the thread hop, overload
 * control, rate limiting, Redis, Kafka, metrics, logging, GC...). Printed as CPU µs per request,
 * main thread and shard workers apart, beside the process's CPU per request from /proc (the
 * profiler's own cost is in the latter, not the former). Appended to bench/results.json.
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

const RESULTS = new URL('./results.json', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '3000' },
    connections: { type: 'string', default: '64' },
    'no-record': { type: 'boolean', default: false },
  },
});
const N = Number(values.requests);
const WARMUP = Number(values.warmup);
const C = Number(values.connections);
const GEN_CPU = '0';
const API_PORT = 18_097;
const BARE_PORT = 18_096;
const work = mkdtempSync(join(tmpdir(), 'fcfs-cost-'));
const log = (line: string) => console.error(`[cost] ${line}`);

interface Case {
  case: string;
  rps: number;
  /** The server process's CPU per request from /proc, profiler included. */
  processUsPerReq: number | null;
  /** Profiled CPU per request, by thread kind and category. */
  mainUs: Record<string, number>;
  workerUs: Record<string, number>;
  /** The costliest sampled frames of each category, µs per request (all threads). */
  frames: Record<string, [string, number][]>;
  generatorCpuPct: number;
  outcomes: Record<string, number>;
}

async function measure(
  label: string,
  base: string,
  paths: string[],
  pid: number,
): Promise<{ from: number; to: number; row: Omit<Case, 'mainUs' | 'workerUs' | 'frames'> }> {
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

/** The windows' samples of every thread of `pid`, in µs per request by category, main thread and workers apart. */
function attribute(dir: string, pid: number, from: number, to: number): Pick<Case, 'mainUs' | 'workerUs' | 'frames'> {
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
  const frames = Object.fromEntries(
    [...frameUs].map(([category, m]) => [
      category,
      [...m]
        .sort((x, y) => y[1] - x[1])
        .slice(0, 6)
        .map(([f, us]): [string, number] => [f, round(us, 1)]),
    ]),
  );
  return { mainUs, workerUs, frames };
}

const machine = machineInfo();
loadgen(log);
log(
  `${machine.cpuModel} × ${machine.cpus}, Node ${machine.node}, commit ${machine.commit}; ${N} requests after ${WARMUP} warm-up, ${C} connections`,
);
const uuids = Array.from({ length: WARMUP + N }, () => randomUUID());
const cases: Case[] = [];

// (a) The bare route.
if (!(await freePort(BARE_PORT))) throw new Error(`port ${BARE_PORT} is taken`);
const bareDir = join(work, 'bare');
const bare = spawnNode(['--cpu-prof', `--cpu-prof-dir=${bareDir}`, 'bench/bare-server.ts'], {
  ...(process.env as Record<string, string>),
  PORT: String(BARE_PORT),
});
await ready('the bare server', bare, `http://127.0.0.1:${BARE_PORT}/`);
const bareRun = await measure(
  '(a) bare Fastify route',
  `http://127.0.0.1:${BARE_PORT}`,
  uuids.map((u) => `/api/coupons/1/issue-fcfs/${u}`),
  bare.child.pid!,
);
await bare.stop();
cases.push({ ...bareRun.row, ...attribute(bareDir, bare.child.pid!, bareRun.from, bareRun.to) });

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
const apiDir = join(work, 'api');
const api = spawnNode(['--cpu-prof', `--cpu-prof-dir=${apiDir}`, '--disable-warning=TimeoutNegativeWarning', 'src/cli/start.ts'], {
  ...env,
  MAX_IN_FLIGHT: '0',
  MAX_EVENT_LOOP_DELAY_MS: '0',
});
const base = `http://127.0.0.1:${API_PORT}`;
const windows: { from: number; to: number; row: Omit<Case, 'mainUs' | 'workerUs' | 'frames'> }[] = [];
try {
  await apiReady(api, base);
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
  // Profiles are written as the process and its threads exit, which a graceful stop lets them do.
  await api.stop();
  await database.drop();
}
for (const w of windows) cases.push({ ...w.row, ...attribute(apiDir, api.child.pid!, w.from, w.to) });

// The table: one line per category, µs of CPU per request.
const categories = [...new Set(cases.flatMap((c) => [...Object.keys(c.mainUs), ...Object.keys(c.workerUs)]))];
const total = (r: Record<string, number>) => Object.values(r).reduce((x, y) => x + y, 0);
const sortKey = (cat: string) => -cases.reduce((n, c) => n + (c.mainUs[cat] ?? 0) + (c.workerUs[cat] ?? 0), 0);
categories.sort((x, y) => sortKey(x) - sortKey(y));
const pad = (s: string | number, n: number) => String(s).padStart(n);
const head = ['(a) bare', '(b) main', '(b) shards', '(b) total', '(c) main', '(c) shards', '(c) total'];
const cell = (v: number | undefined) => (v ? v.toFixed(1) : '-');
const [ca, cb, cc] = cases as [Case, Case, Case];
const line = (name: string, get: (r: Record<string, number>) => number | undefined) =>
  `${name.padEnd(30)}${[
    get(ca.mainUs),
    get(cb.mainUs),
    get(cb.workerUs),
    (get(cb.mainUs) ?? 0) + (get(cb.workerUs) ?? 0),
    get(cc.mainUs),
    get(cc.workerUs),
    (get(cc.mainUs) ?? 0) + (get(cc.workerUs) ?? 0),
  ]
    .map((v) => pad(cell(v), 12))
    .join('')}`;
console.log(
  [
    `CPU µs per request, profiled (${N} requests, ${C} connections; threads sampled by V8, idle excluded)`,
    `${'part'.padEnd(30)}${head.map((h) => pad(h, 12)).join('')}`,
    ...categories.map((cat) => line(cat, (r) => r[cat])),
    line('sum (profiled)', total),
    `${'process CPU from /proc'.padEnd(30)}${[ca.processUsPerReq, '', '', cb.processUsPerReq, '', '', cc.processUsPerReq].map((v) => pad(v ?? '-', 12)).join('')}`,
    `${'req/s under the profiler'.padEnd(30)}${[ca.rps, '', '', cb.rps, '', '', cc.rps].map((v) => pad(v, 12)).join('')}`,
    `${'generator % of core 0'.padEnd(30)}${[ca.generatorCpuPct, '', '', cb.generatorCpuPct, '', '', cc.generatorCpuPct].map((v) => pad(v, 12)).join('')}`,
    '',
    'The admitted path, costliest sampled frames of each part (µs per request, all threads):',
    ...categories.flatMap((cat) => [
      `  ${cat}: ${((cb.mainUs[cat] ?? 0) + (cb.workerUs[cat] ?? 0)).toFixed(1)}`,
      ...(cb.frames[cat] ?? []).map(([f, us]) => `      ${us.toFixed(1).padStart(5)}  ${f}`),
    ]),
    '',
    'V8 samples on a wall clock: a thread that wakes another on its core (a task posted to a shard worker, a socket',
    'write) is often preempted inside that call, and sampled there when it runs again, so those frames also hold',
    "time spent waiting for the core; /proc's line is the CPU.",
    '',
    `admitted ÷ bare, profiled CPU: ${round((total(cb.mainUs) + total(cb.workerUs)) / total(ca.mainUs), 2)} (target <= 2); sold out ÷ bare: ${round((total(cc.mainUs) + total(cc.workerUs)) / total(ca.mainUs), 2)}`,
  ].join('\n'),
);

if (!values['no-record']) {
  const history = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as { runs: unknown[] }) : { runs: [] };
  history.runs.push({
    bench: 'cost',
    at: new Date().toISOString(),
    machine,
    settings: { requests: N, warmup: WARMUP, connections: C },
    cases,
  });
  mkdirSync(new URL('./', import.meta.url).pathname, { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(history, null, 2)}\n`);
  log(`appended to ${RESULTS}`);
}
process.exit(0);
