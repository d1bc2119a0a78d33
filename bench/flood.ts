/**
 * `npm run bench:flood [-- --factor 2] [--seconds 10] [--capacity-seconds 10] [--workers 512] [--no-split]`
 *
 * Overload: what the API does when more arrives than it can serve. One run on this machine:
 *
 * 1. Capacity: a closed loop of --workers concurrent requests for --capacity-seconds (enough
 *    concurrency to saturate the API: its batches grow with the load, so a few connections would
 *    measure latency, not capacity), every request admitted (a new user each, stock for all).
 * 2. Flood: an open model at --factor × that capacity for --seconds (arrivals on a clock, however
 *    slowly the API answers), again every request a new user with stock left, so whatever is not
 *    shed is real work.
 * 3. Settle: waits until reconciliation says every admission is a database row, then compares the
 *    202s the generator received with the rows the coupon has.
 *
 * The generator is vegeta (Go, MIT; `go install`ed into .data/tools on first use): a Node
 * generator costs about as much CPU per request as the API does, and on 2 cores could not offer
 * twice what the API serves. The API process is confined to the last core and the generator to the
 * first (taskset; Redis, Kafka and MariaDB float), for both phases, so the factor is honest.
 * --no-split lets everything share both cores (here that measured no higher capacity, and a worse
 * flood: the generator then takes its CPU from the API).
 *
 * The API runs with its production shedding settings (MAX_IN_FLIGHT, MAX_QUEUE_WAIT_MS,
 * MAX_EVENT_LOOP_DELAY_MS from the environment or their defaults), isolated like the tests.
 * Targets (issue #6): p99 of the accepted requests under 200 ms, the rest shed with 503 (no other
 * status, no connection errors), every 202 exactly one row. Exits 1 when a target is missed.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { USERS_BY_PUBLIC_ID } from '../src/admission/keys.ts';
import { awaitReconciliation } from '../src/loadtest/reconciliation.ts';
import { machineInfo, readSeedFile } from '../src/loadtest/runner.ts';
import { percentile, round, sortedCopy } from '../src/loadtest/stats.ts';
import { testConfig, testEnv } from '../test/support/env.ts';
import { eventually } from '../test/support/processes.ts';
import { createTestTopics, openTestRedis } from '../test/support/services.ts';
import { freePort, processCpuMs, ready, seed, spawnNode } from './harness.ts';

const { values } = parseArgs({
  options: {
    factor: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '10' },
    'capacity-seconds': { type: 'string', default: '10' },
    workers: { type: 'string', default: '512' },
    'max-workers': { type: 'string', default: '4000' },
    split: { type: 'boolean', default: true },
  },
  strict: true,
  allowNegative: true,
});
const num = (name: keyof typeof values, min: number): number => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got ${values[name]}`);
  return n;
};
const FACTOR = num('factor', 1);
const SECONDS = num('seconds', 1);
const CAPACITY_SECONDS = num('capacity-seconds', 1);
const WORKERS = Math.round(num('workers', 1));
const MAX_WORKERS = Math.round(num('max-workers', 1));
const ROOT = new URL('../', import.meta.url).pathname;
const VEGETA_VERSION = 'v12.13.0';
const TOOLS = join(ROOT, '.data', 'tools', 'bin');
const API_PORT = 18_096;
/** Users (and units) seeded: enough for a warm-up, the capacity phase and --factor × any capacity this box reaches. */
const USERS = 600_000;
/** --no-split lets the API, vegeta and the services share every core. */
const SPLIT = values.split!;
const GEN_CPU = SPLIT ? '0' : `0-${availableParallelism() - 1}`;
const API_CPU = SPLIT ? String(availableParallelism() - 1) : undefined;

const log = (line: string) => console.error(`[flood] ${line}`);

function vegeta(): string {
  const bin = join(TOOLS, 'vegeta');
  if (existsSync(bin)) return bin;
  log(`installing vegeta ${VEGETA_VERSION} into .data/tools/bin (go install)`);
  mkdirSync(TOOLS, { recursive: true });
  execFileSync('go', ['install', `github.com/tsenart/vegeta/v12@${VEGETA_VERSION}`], { env: { ...process.env, GOBIN: TOOLS }, stdio: 'inherit' });
  return bin;
}

interface Answer {
  status: number;
  latencyMs: number;
  code: string;
}

/** One vegeta attack over the users [from, from + count), pinned to the generator's core. */
async function attack(name: string, from: number, count: number, args: string[]): Promise<Answer[]> {
  const dir = mkdtempSync(join(tmpdir(), `fcfs-flood-${name}-`));
  const targets = join(dir, 'targets.jsonl');
  const results = join(dir, 'results.bin');
  const lines: string[] = [];
  for (let i = from; i < from + count; i++) lines.push(JSON.stringify({ method: 'POST', url: `${base}${pathOf(i)}` }));
  writeFileSync(targets, `${lines.join('\n')}\n`);
  const child = spawn('taskset', ['-c', GEN_CPU, vegeta(), 'attack', '-format=json', `-targets=${targets}`, '-timeout=30s', `-output=${results}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`vegeta ${name} exited ${code}: ${err}`);
  const csv = execFileSync(vegeta(), ['encode', '--to', 'csv', results], { maxBuffer: 1 << 30 }).toString();
  const out: Answer[] = [];
  for (const line of csv.split('\n')) {
    if (!line) continue;
    const f = line.split(',');
    const status = Number(f[1]);
    const body = status > 0 ? Buffer.from(f[6] ?? '', 'base64').toString() : '';
    out.push({ status, latencyMs: Number(f[2]) / 1e6, code: /"(?:code|status)":"([A-Z_]+)"/.exec(body)?.[1] ?? (f[5] || '') });
  }
  return out;
}

/** The issue route's duration histogram by status: cumulative bucket counts by upper bound (s). */
async function issueDurations(baseUrl: string): Promise<Map<string, Map<number, number>>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const out = new Map<string, Map<number, number>>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('http_request_duration_seconds_bucket{') || !line.includes('issue-fcfs') || !line.includes('method="POST"')) continue;
    const status = /status_code="(\d+)"/.exec(line)?.[1];
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (!status || !le) continue;
    const buckets = out.get(status) ?? new Map<number, number>();
    buckets.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(line.slice(line.lastIndexOf(' ') + 1)));
    out.set(status, buckets);
  }
  return out;
}

/** A quantile (ms) of what happened between two scrapes, interpolated within buckets as Prometheus does. */
function serverQuantile(before: Map<string, Map<number, number>>, after: Map<string, Map<number, number>>, status: string, q: number): string {
  const b = after.get(status);
  if (!b) return '-';
  const bounds = [...b.keys()].sort((x, y) => x - y);
  const counts = bounds.map((le) => b.get(le)! - (before.get(status)?.get(le) ?? 0));
  const total = counts.at(-1)!;
  if (total <= 0) return '-';
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i]! >= rank) {
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      const hi = bounds[i]!;
      if (!Number.isFinite(hi)) return `> ${lo * 1000}`;
      const below = i === 0 ? 0 : counts[i - 1]!;
      return String(round((lo + ((hi - lo) * (rank - below)) / (counts[i]! - below)) * 1000));
    }
  }
  return '-';
}

function tally(answers: Answer[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const a of answers) t[`${a.status} ${a.code}`.trim()] = (t[`${a.status} ${a.code}`.trim()] ?? 0) + 1;
  return t;
}

const machine = machineInfo();
log(`${machine.cpuModel} × ${machine.cpus}, Node ${machine.node}, commit ${machine.commit}; load average ${machine.loadavg.join(' ')}`);
if (availableParallelism() < 2) throw new Error('the flood needs 2 cores: one for the generator, one for the API');
vegeta();
if (!(await freePort(API_PORT))) throw new Error(`port ${API_PORT} is taken`);
// The consumer runs as its own process (`npm run consumer`), as deployed beside several API
// processes, and is not confined with the API: a child of `npm start` would share its core.
const env = testEnv({ PORT: String(API_PORT), START_CONSUMER: 'false', CONSUMER_METRICS_PORT: '0', LOG_LEVEL: 'info' });
// The production shedding settings, not the tests'.
for (const key of ['MAX_IN_FLIGHT', 'MAX_QUEUE_WAIT_MS', 'MAX_EVENT_LOOP_DELAY_MS']) {
  if (process.env[key] === undefined) delete env[key];
  else env[key] = process.env[key]!;
}
await createTestTopics(testConfig(env));
const usersFile = join(mkdtempSync(join(tmpdir(), 'fcfs-flood-')), 'users.json');
log(`seeding ${USERS} users and a coupon with a unit for each`);
await seed(env, USERS, USERS, usersFile);
const users = readSeedFile(usersFile);
const base = `http://127.0.0.1:${API_PORT}`;
const pathOf = (i: number) => `/api/coupons/${users.couponId}/issue-fcfs/${users.publicIds[i]}`;

log(SPLIT ? `API on core ${API_CPU}, vegeta on core ${GEN_CPU}` : 'API, vegeta and the services share every core');
const api = spawnNode(['--disable-warning=TimeoutNegativeWarning', 'src/cli/start.ts'], env, API_CPU);
const consumer = spawnNode(['--disable-warning=TimeoutNegativeWarning', 'src/cli/consumer.ts'], env);
let failed = false;
try {
  await ready('the API', api, `${base}/health/ready`);
  await eventually('the API to be ready', async () => (await fetch(`${base}/health/ready`)).status === 200, 90_000);
  let next = 0;
  const take = (n: number) => {
    const from = next;
    next += n;
    if (next > users.publicIds.length) throw new Error(`out of seeded users (${users.publicIds.length}); raise USERS`);
    return from;
  };

  const serverBefore = await issueDurations(base);

  // 1. Capacity: a warm-up, then the measured closed loop (rate 0 = as fast as the workers go).
  // vegeta cycles through its targets: give each phase more users than it can possibly send.
  const warmCount = 40_000;
  const warm = await attack('warmup', take(warmCount), warmCount, ['-rate=0', `-max-workers=${WORKERS}`, `-workers=${WORKERS}`, '-duration=2s']);
  const capCount = 25_000 * CAPACITY_SECONDS;
  const cpu0 = processCpuMs(api.child.pid);
  const cap = await attack('capacity', take(capCount), capCount, ['-rate=0', `-max-workers=${WORKERS}`, `-workers=${WORKERS}`, `-duration=${CAPACITY_SECONDS}s`]);
  const cpu1 = processCpuMs(api.child.pid);
  const capacity = Math.round(cap.length / CAPACITY_SECONDS);
  const capLat = sortedCopy(cap.filter((a) => a.status === 202).map((a) => a.latencyMs));
  log(`capacity (admitted path, ${WORKERS} concurrent): ${capacity} req/s, p99 of 202s ${capLat.length ? round(percentile(capLat, 99)) : '-'} ms, ${JSON.stringify(tally(cap))}; API ${cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) * 1000) / cap.length) : '?'} µs CPU/request`);

  // 2. Flood.
  const rate = Math.round(capacity * FACTOR);
  const floodCount = Math.ceil(rate * SECONDS * 1.02);
  log(`flood: ${rate} arrivals/s (${FACTOR} × capacity) for ${SECONDS} s, up to ${MAX_WORKERS} requests in flight`);
  const flood = await attack('flood', take(floodCount), floodCount, [`-rate=${rate}/1s`, `-duration=${SECONDS}s`, `-max-workers=${MAX_WORKERS}`, `-workers=${Math.min(MAX_WORKERS, 1000)}`]);
  const accepted = sortedCopy(flood.filter((a) => a.status === 202).map((a) => a.latencyMs));
  const shed = flood.filter((a) => a.status === 503);
  const shedLat = sortedCopy(shed.map((a) => a.latencyMs));
  const other = flood.filter((a) => a.status !== 202 && a.status !== 503);
  const offered = flood.length;

  const server = await issueDurations(base);

  // 3. Settle: every 202 of every phase must be exactly one row.
  log('waiting for the consumer to persist every admission');
  const rec = await awaitReconciliation(base, users.couponId, env.ADMIN_TOKEN!, 300_000);
  const promised = [warm, cap, flood].reduce((n, answers) => n + answers.filter((a) => a.status === 202).length, 0);
  const persisted = rec.report?.persisted ?? -1;

  const p = (xs: ArrayLike<number>, q: number) => (xs.length ? round(percentile(xs, q)) : '-');
  console.log([
    '',
    `flood at ${FACTOR} × capacity: ${rate} arrivals/s for ${SECONDS} s against a measured capacity of ${capacity} req/s (admitted path; ${SPLIT ? `API on core ${API_CPU}, vegeta on core ${GEN_CPU}` : 'all cores shared'})`,
    `  sent ${offered}`,
    `  202 accepted ${accepted.length} (${Math.round(accepted.length / SECONDS)}/s): p50 ${p(accepted, 50)} ms, p95 ${p(accepted, 95)} ms, p99 ${p(accepted, 99)} ms, max ${p(accepted, 100)} ms`,
    `  503 shed     ${shed.length}: p50 ${p(shedLat, 50)} ms, p99 ${p(shedLat, 99)} ms, all with Retry-After`,
    `  other        ${other.length}: ${JSON.stringify(tally(other))}`,
    `  inside the API (Fastify's own timing, parse to reply, all phases, from /metrics): 202 p50 ${serverQuantile(serverBefore, server, '202', 0.5)} ms, p99 ${serverQuantile(serverBefore, server, '202', 0.99)} ms; 503 p99 ${serverQuantile(serverBefore, server, '503', 0.99)} ms`,
    `  promised (202 in every phase) ${promised}, rows persisted ${persisted}; reconciliation ${rec.reason} after ${round(rec.waitedMs / 1000)} s`,
    `  load average at the end ${loadavg().map((x) => round(x, 2)).join(' ')}`,
  ].join('\n'));

  const misses: string[] = [];
  if (!(accepted.length > 0 && percentile(accepted, 99) < 200)) misses.push(`p99 of accepted ${p(accepted, 99)} ms (target < 200)`);
  if (shed.length === 0) misses.push('nothing was shed: the flood did not exceed capacity');
  if (other.length > 0) misses.push(`${other.length} answers neither 202 nor 503`);
  if (!rec.ok) misses.push(`reconciliation: ${rec.reason}`);
  if (persisted !== promised) misses.push(`${promised} promised, ${persisted} persisted`);
  console.log(misses.length ? `targets MISSED: ${misses.join('; ')}` : 'targets MET: accepted p99 < 200 ms, the rest shed with 503, every 202 one row');
  failed = misses.length > 0;
} finally {
  const stopping = performance.now();
  await api.stop();
  await consumer.stop();
  const stopMs = Math.round(performance.now() - stopping);
  log(`API stopped (SIGTERM) in ${stopMs} ms`);
  if (stopMs > 10_000) log(`slow shutdown; the API's last lines:\n${api.output().split('\n').slice(-25).join('\n')}`);
  // Its 600,000 users would otherwise fill the test database's user directory, which every API
  // started by the tests preloads.
  const redis = await openTestRedis(testConfig(env));
  for (let i = 0; i < users.publicIds.length; i += 10_000) await redis.hdel(USERS_BY_PUBLIC_ID, ...users.publicIds.slice(i, i + 10_000));
  redis.disconnect();
}
const errors = api.output().split('\n').filter((l) => /"level":(50|60)/.test(l));
if (errors.length) log(`API logged ${errors.length} errors, first: ${errors[0]!.slice(0, 500)}`);
process.exit(failed ? 1 : 0);
