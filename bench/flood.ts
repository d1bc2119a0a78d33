/**
 * `npm run bench:flood [-- --factor 2] [--seconds 10] [--capacity-seconds 10] [--conns 512]
 *   [--flood-conns 1000] [--no-split] [--profile]`
 *
 * Overload: what the API does when more arrives than it can serve. One run on this machine:
 *
 * 1. Capacity: a closed loop over --conns connections for --capacity-seconds (enough concurrency to
 *    saturate the API: its batches grow with the load, so a few connections would measure latency,
 *    not capacity), every request admitted (a new user each, stock for all), on an API with
 *    shedding off: capacity is what the admitted path serves, not what it answers.
 * 2. The floor: a plain Node server that only answers the API's 503 (bench/intake-server.ts), on
 *    the API's core, warmed up, then flooded at the same rate for 5 s: what reading and answering
 *    alone cost there. If it misses the target, no shedding inside the API can meet it.
 * 3. Flood: the API restarted with its production shedding settings (MAX_IN_FLIGHT,
 *    IN_FLIGHT_TARGET_MS, LOOP_DELAY_TARGET_MS, MAX_QUEUE_WAIT_MS, MAX_EVENT_LOOP_DELAY_MS from the
 *    environment or their defaults) on a port of its own, warmed up at half the capacity, then an
 *    open model at --factor × the capacity for --seconds over --flood-conns connections, again
 *    every request a new user with stock left, so whatever is not shed is real work. Latencies
 *    count from when each request was due, not when it was sent: a generator whose connections are
 *    all held by a slow API sends late, and that wait is the API's (coordinated omission, corrected
 *    as wrk2 does).
 * 4. Settle: waits until reconciliation says every admission is a database row, then compares the
 *    202s the generator received with the rows the coupon has.
 *
 * The generator is bench/loadgen (Go, standard library only, built into .data/tools on first
 * use; its header says why not vegeta, which earlier runs used: on one core vegeta's own tail was
 * most of what it measured). Its connections are dialled before each phase's clock starts, as a
 * proxy's pool to the API, or users' browsers that loaded the event page, would be. A Node
 * generator costs about as much CPU per request as the API does, and on 2 cores could not offer
 * twice what the API serves. The API process is confined to the last core and the generator to the
 * first (taskset; Redis, Kafka, MariaDB and the consumer float), for both phases, so the factor is
 * honest. --no-split lets everything share both cores. It prints where the API's CPU went (per
 * thread), why requests were shed, and how busy the generator was; --profile adds the API's CPU
 * profile. FLOOD_API_NODE_ARGS passes extra Node flags to the API.
 *
 * Targets (issue #6): p99 of the accepted requests under 200 ms, the rest shed with 503 (no other
 * status, no connection errors), every 202 exactly one row. Exits 1 when a target is missed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { awaitReconciliation } from '../tools/loadtest/reconciliation.ts';
import { machineInfo, readSeedFile } from '../tools/loadtest/runner.ts';
import { percentile, round, sortedCopy } from '../tools/loadtest/stats.ts';
import { testConfig } from '../tools/harness/env.ts';
import type { Proc } from '../tools/harness/processes.ts';
import { createTestTopics, openTestRedis } from '../tools/harness/services.ts';
import { formatProfile, profilesIn } from './profile.ts';
import { attack as attackWith, fromDue, loadgen, pct, shedByReason, tally, type Answer, type Load } from './load.ts';
import {
  apiReady,
  freePort,
  isolatedEnv,
  OVERLOAD_SETTINGS,
  processCpuMs,
  productionSettings,
  ready,
  seed,
  spawnNode,
  threadCpuDelta,
  threadCpuMs,
} from './harness.ts';

const { values } = parseArgs({
  options: {
    factor: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '10' },
    'capacity-seconds': { type: 'string', default: '10' },
    conns: { type: 'string', default: '512' },
    'flood-conns': { type: 'string', default: '1000' },
    split: { type: 'boolean', default: true },
    profile: { type: 'boolean', default: false },
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
const CONNS = Math.round(num('conns', 1));
const FLOOD_CONNS = Math.round(num('flood-conns', 1));
const API_PORT = 18_096;
/**
 * The flood's API listens on a port of its own: the capacity phase's API, stopped, leaves its
 * connections in TIME_WAIT on its port, and the generator's new connections at the flood's onset
 * collided with them (the kernel dropped those SYNs, TcpExtPAWSTimewait, and the clients waited the
 * 1 s and 3 s SYN retransmits: the onset's seconds-long latencies were the benchmark's own).
 */
const FLOOD_API_PORT = 18_098;
const INTAKE_PORT = 18_097;
/** How long the intake floor is measured (s). */
const INTAKE_SECONDS = 5;
/** The fastest closed loop the capacity phase is given users for (req/s); the flood follows from it. */
const MAX_CAPACITY = 25_000;
const WARM_USERS = 40_000;
/**
 * Users (and units) seeded: the warm-up, the capacity phase at MAX_CAPACITY, then as if that were
 * the capacity the rewarm (twice the capacity's users) and the flood (--factor × it, 2 % over). A
 * fixed 600,000 ran out on a day this box measured 15,000/s.
 */
const USERS = Math.ceil(WARM_USERS + MAX_CAPACITY * (CAPACITY_SECONDS + 2 + FACTOR * SECONDS * 1.02));
/** --no-split lets the API, the generator and the services share every core. */
const SPLIT = values.split!;
const GEN_CPU = SPLIT ? '0' : `0-${availableParallelism() - 1}`;
const API_CPU = SPLIT ? String(availableParallelism() - 1) : undefined;

const log = (line: string) => console.error(`[flood] ${line}`);

/** One phase of load over the users [from, from + count) at `target` (the API by default), the generator pinned to its core. */
async function attack(name: string, from: number, count: number, load: Load, target = base): Promise<Answer[]> {
  const paths: string[] = [];
  for (let i = from; i < from + count; i++) paths.push(pathOf(i));
  const { answers, generatorCores } = await attackWith(name, target, paths, load, GEN_CPU);
  log(`generator ${name}: ${round(generatorCores, 2)} of a core`);
  return answers;
}

/**
 * The flood second by second (by when requests were due): a p99 made at the onset, by one stall or
 * by a backlog that grows all along reads the same in one figure and not here.
 */
function timeline(answers: Answer[], seconds: number): string[] {
  const lines: string[] = [];
  for (let s = 0; s < Math.ceil(seconds); s++) {
    const inSecond = answers.filter((a) => a.dueMs >= s * 1000 && a.dueMs < (s + 1) * 1000);
    const accepted = fromDue(inSecond.filter((a) => a.status === 202));
    const shed = fromDue(inSecond.filter((a) => a.status === 503));
    lines.push(
      `    ${String(s).padStart(2)}–${s + 1} s: 202 ${String(accepted.length).padStart(5)} (p99 ${pct(accepted, 99)} ms), 503 ${String(shed.length).padStart(6)} (p50 ${pct(shed, 50)}, p99 ${pct(shed, 99)} ms)`,
    );
  }
  return lines;
}

/**
 * Duration histograms from /metrics as cumulative bucket counts by upper bound (s), summed over
 * their other labels: the issue route's by status ("202", "503"), and inside the shard workers the
 * Kafka produce round trips ("kafka") and the admission scripts' Redis calls ("redis"), one per batch.
 */
async function durations(baseUrl: string): Promise<Map<string, Map<number, number>>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const out = new Map<string, Map<number, number>>();
  for (const line of text.split('\n')) {
    const key =
      line.startsWith('http_request_duration_seconds_bucket{') && line.includes('issue-fcfs') && line.includes('method="POST"')
        ? /status_code="(\d+)"/.exec(line)?.[1]
        : line.startsWith('kafka_produce_duration_seconds_bucket{')
          ? 'kafka'
          : line.startsWith('redis_script_duration_seconds_bucket{')
            ? 'redis'
            : undefined;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (!key || !le) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    const buckets = out.get(key) ?? new Map<number, number>();
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
    out.set(key, buckets);
  }
  return out;
}

/** A quantile (ms) of what happened between two scrapes, interpolated within buckets as Prometheus does. */
function serverQuantile(before: Map<string, Map<number, number>>, after: Map<string, Map<number, number>>, key: string, q: number): string {
  const b = after.get(key);
  if (!b) return '-';
  const bounds = [...b.keys()].sort((x, y) => x - y);
  const counts = bounds.map((le) => b.get(le)! - (before.get(key)?.get(le) ?? 0));
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

/** CPU ms of the local services and the consumer, by name (found by their command lines). */
function serviceCpuMs(): Map<string, number> {
  const out = new Map<string, number>();
  const find = (name: string, pattern: string) => {
    try {
      for (const pid of execFileSync('pgrep', ['-f', pattern]).toString().trim().split('\n'))
        out.set(name, (out.get(name) ?? 0) + (processCpuMs(Number(pid)) ?? 0));
    } catch {
      // Not running.
    }
  };
  find('kafka', 'kafka.Kafka');
  find('redis', 'redis-server');
  find('mariadb', 'mariadbd');
  find('consumer', 'src/cli/consumer.ts');
  return out;
}

/** TCP counters that say whether connections were dropped or retried (from /proc/net/netstat). */
function tcpCounters(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0]!.split(' ').slice(1);
    const values = lines[1]!.split(' ').slice(1).map(Number);
    for (const name of ['ListenOverflows', 'TCPSynRetrans', 'PAWSTimewait', 'TCPTimeouts']) out.set(name, values[names.indexOf(name)] ?? 0);
  } catch {
    // Not Linux.
  }
  return out;
}

const machine = machineInfo();
log(`${machine.cpuModel} × ${machine.cpus}, Node ${machine.node}, commit ${machine.commit}; load average ${machine.loadavg.join(' ')}`);
if (availableParallelism() < 2) throw new Error('the flood needs 2 cores: one for the generator, one for the API');
loadgen(log);
for (const port of [API_PORT, FLOOD_API_PORT]) if (!(await freePort(port))) throw new Error(`port ${port} is taken`);
// The consumer runs as its own process (`npm run consumer`), as deployed beside several API
// processes, and is not confined with the API: a child of `npm start` would share its core.
// A database and a Redis database of its own, emptied before and after: the test ones would keep
// its 600,000 users (which every API the tests start preloads), and ids would collide run to run.
const { env, database } = await isolatedEnv('coupons_flood', 2, {
  PORT: String(API_PORT),
  START_CONSUMER: 'false',
  CONSUMER_METRICS_PORT: '0',
  LOG_LEVEL: 'info',
});
const scratch = await openTestRedis(testConfig(env), 'flood');
productionSettings(env, OVERLOAD_SETTINGS);
await createTestTopics(testConfig(env));
const usersFile = join(mkdtempSync(join(tmpdir(), 'fcfs-flood-')), 'users.json');
log(`seeding ${USERS} users and a coupon with a unit for each`);
await seed(env, USERS, USERS, usersFile);
const users = readSeedFile(usersFile);
let base = `http://127.0.0.1:${API_PORT}`;
const pathOf = (i: number) => `/api/coupons/${users.couponId}/issue-fcfs/${users.publicIds[i]}`;

log(SPLIT ? `API on core ${API_CPU}, generator on core ${GEN_CPU}` : 'API, generator and the services share every core');
const profileDir = mkdtempSync(join(tmpdir(), 'fcfs-flood-profile-'));
const profileArgs = [
  ...(process.env.FLOOD_API_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
  ...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
];
async function startApi(overrides: Record<string, string>, port = API_PORT): Promise<Proc> {
  base = `http://127.0.0.1:${port}`;
  const proc = spawnNode(
    ['--disable-warning=TimeoutNegativeWarning', ...profileArgs, 'src/cli/start.ts'],
    { ...env, PORT: String(port), ...overrides },
    API_CPU,
  );
  await apiReady(proc, base);
  return proc;
}
// Capacity is what the admitted path serves with nothing shed, so it is measured on an API without
// shedding; the flood then meets one with its production settings.
let api = await startApi({ MAX_IN_FLIGHT: '0', MAX_QUEUE_WAIT_MS: '0', MAX_EVENT_LOOP_DELAY_MS: '0' });
const consumer = spawnNode(['--disable-warning=TimeoutNegativeWarning', 'src/cli/consumer.ts'], env);
let failed = false;
let intakeFloor: ArrayLike<number> = [];
try {
  let next = 0;
  const take = (n: number) => {
    const from = next;
    next += n;
    if (next > users.publicIds.length) throw new Error(`out of seeded users (${users.publicIds.length}); raise USERS`);
    return from;
  };

  // 1. Capacity: a warm-up, then the measured closed loop (rate 0 = as fast as the connections go).
  // The generator cycles through its targets: give each phase more users than it can possibly send.
  const warmCount = WARM_USERS;
  const warm = await attack('warmup', take(warmCount), warmCount, { rate: 0, seconds: 2, conns: CONNS });
  const capCount = MAX_CAPACITY * CAPACITY_SECONDS;
  const cpu0 = processCpuMs(api.child.pid);
  const cap = await attack('capacity', take(capCount), capCount, { rate: 0, seconds: CAPACITY_SECONDS, conns: CONNS });
  const cpu1 = processCpuMs(api.child.pid);
  // What it serves, not what it answers: a 503 in this phase is not capacity.
  const capacity = Math.round(cap.filter((a) => a.status === 202).length / CAPACITY_SECONDS);
  const capLat = sortedCopy(cap.filter((a) => a.status === 202).map((a) => a.latencyMs));
  log(
    `capacity (admitted path, ${CONNS} connections): ${capacity} req/s, p99 of 202s ${capLat.length ? round(percentile(capLat, 99)) : '-'} ms, ${JSON.stringify(tally(cap))}; API ${cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) * 1000) / cap.length) : '?'} µs CPU/request`,
  );

  await api.stop();
  const rate = Math.round(capacity * FACTOR);

  // The floor: what a server that only answers 503 does at the flood's rate on the API's core.
  if (!(await freePort(INTAKE_PORT))) throw new Error(`port ${INTAKE_PORT} is taken`);
  const intakeServer = spawnNode(['bench/intake-server.ts'], { ...env, PORT: String(INTAKE_PORT) }, API_CPU);
  let intakeLine: string;
  try {
    await ready('the intake server', intakeServer, `http://127.0.0.1:${INTAKE_PORT}/`);
    // Warmed up first as the API is: a server's first second runs cold code.
    await attack(
      'intake-warmup',
      next,
      rate,
      { rate: Math.round(rate / 2), seconds: 2, conns: FLOOD_CONNS },
      `http://127.0.0.1:${INTAKE_PORT}`,
    );
    const cpuBefore = processCpuMs(intakeServer.child.pid);
    // The same users as the flood will use: the paths, and so the bytes parsed, are the same.
    const answers = await attack(
      'intake',
      next,
      Math.ceil(rate * INTAKE_SECONDS * 1.02),
      { rate, seconds: INTAKE_SECONDS, conns: FLOOD_CONNS },
      `http://127.0.0.1:${INTAKE_PORT}`,
    );
    const cpuAfter = processCpuMs(intakeServer.child.pid);
    intakeFloor = fromDue(answers);
    const cpu =
      cpuBefore !== null && cpuAfter !== null
        ? `${Math.round(((cpuAfter - cpuBefore) * 1000) / answers.length)} µs CPU/request`
        : '? µs CPU/request';
    intakeLine = `the floor: a Node server that only answers 503, on the API's core at ${rate}/s for ${INTAKE_SECONDS} s: p50 ${round(percentile(intakeFloor, 50))} ms, p99 ${round(percentile(intakeFloor, 99))} ms from due, ${cpu}`;
  } finally {
    await intakeServer.stop();
  }
  log(intakeLine);

  // 2. Flood, on an API with its production settings, warmed up below capacity first.
  api = await startApi({}, FLOOD_API_PORT);
  const rewarmCount = Math.ceil(capacity * 2);
  const rewarm = await attack('rewarm', take(rewarmCount), rewarmCount, { rate: Math.round(capacity / 2), seconds: 2, conns: FLOOD_CONNS });
  const serverBefore = await durations(base);
  const floodCount = Math.ceil(rate * SECONDS * 1.02);
  log(`flood: ${rate} arrivals/s (${FACTOR} × capacity) for ${SECONDS} s over ${FLOOD_CONNS} connections`);
  const shedBefore = await shedByReason(base);
  const threadsBefore = threadCpuMs(api.child.pid);
  const tcpBefore = tcpCounters();
  const servicesBefore = serviceCpuMs();
  const flood = await attack('flood', take(floodCount), floodCount, { rate, seconds: SECONDS, conns: FLOOD_CONNS });
  // Measured from when each request was due, not when the generator got round to sending it.
  const accepted = fromDue(flood.filter((a) => a.status === 202));
  const acceptedAsSent = sortedCopy(flood.filter((a) => a.status === 202).map((a) => a.latencyMs));
  const late = sortedCopy(flood.map((a) => a.lateMs));
  const shed = flood.filter((a) => a.status === 503);
  const shedLat = fromDue(shed);
  const other = flood.filter((a) => a.status !== 202 && a.status !== 503);
  const offered = flood.length;

  const tcp = tcpCounters();
  const server = await durations(base);
  const threads = threadCpuDelta(threadsBefore, threadCpuMs(api.child.pid));
  const servicesAfter = serviceCpuMs();
  const services = [...servicesAfter]
    .map(([name, ms]) => `${name} ${round((ms - (servicesBefore.get(name) ?? 0)) / 1000, 2)} s`)
    .join(', ');
  const shedAfter = await shedByReason(base);
  const shedReasons = [...shedAfter].map(([reason, n]) => `${reason} ${n - (shedBefore.get(reason) ?? 0)}`).join(', ');

  // 3. Settle: every 202 of every phase must be exactly one row.
  log('waiting for the consumer to persist every admission');
  const rec = await awaitReconciliation(base, users.couponId, env.ADMIN_TOKEN!, 300_000);
  const promised = [warm, cap, rewarm, flood].reduce((n, answers) => n + answers.filter((a) => a.status === 202).length, 0);
  const persisted = rec.report?.persisted ?? -1;

  console.log(
    [
      '',
      `flood at ${FACTOR} × capacity: ${rate} arrivals/s for ${SECONDS} s against a measured capacity of ${capacity} req/s (admitted path; ${SPLIT ? `API on core ${API_CPU}, generator on core ${GEN_CPU}` : 'all cores shared'})`,
      `  sent ${offered} (${Math.round(offered / SECONDS)}/s over ${FLOOD_CONNS} connections); sent late against the schedule: p50 ${pct(late, 50)} ms, p99 ${pct(late, 99)} ms (counted in the latencies below)`,
      `  202 accepted ${accepted.length} (${Math.round(accepted.length / SECONDS)}/s): p50 ${pct(accepted, 50)} ms, p95 ${pct(accepted, 95)} ms, p99 ${pct(accepted, 99)} ms, max ${pct(accepted, 100)} ms (as sent: p99 ${pct(acceptedAsSent, 99)} ms)`,
      `  503 shed     ${shed.length}: p50 ${pct(shedLat, 50)} ms, p99 ${pct(shedLat, 99)} ms, all with Retry-After (by reason: ${shedReasons || 'none'})`,
      `  other        ${other.length}: ${JSON.stringify(tally(other))}`,
      `  inside the API (Fastify's own timing, parse to reply, from /metrics): 202 p50 ${serverQuantile(serverBefore, server, '202', 0.5)} ms, p99 ${serverQuantile(serverBefore, server, '202', 0.99)} ms; 503 p99 ${serverQuantile(serverBefore, server, '503', 0.99)} ms; per batch in the shard workers: Kafka produce (acks=all) p50 ${serverQuantile(serverBefore, server, 'kafka', 0.5)} ms, p99 ${serverQuantile(serverBefore, server, 'kafka', 0.99)} ms, Redis admission p99 ${serverQuantile(serverBefore, server, 'redis', 0.99)} ms`,
      `  API CPU during the flood by thread: ${threads
        .slice(0, 6)
        .map(([name, ms]) => `${name} ${round(ms / 1000, 2)} s`)
        .join(', ')} (${round(threads.reduce((n, [, ms]) => n + ms, 0) / 1000, 2)} s in ${SECONDS} s)`,
      `  the services' CPU during the flood (on either core): ${services}`,
      `  promised (202 in every phase) ${promised}, rows persisted ${persisted}; reconciliation ${rec.reason} after ${round(rec.waitedMs / 1000)} s`,
      `  ${intakeLine}`,
      `  the kernel during the flood: ${[...tcp].map(([name, n]) => `${name} ${n - (tcpBefore.get(name) ?? 0)}`).join(', ')}`,
      `  load average at the end ${loadavg()
        .map((x) => round(x, 2))
        .join(' ')}`,
      '  second by second, latency from due:',
      ...timeline(flood, SECONDS),
    ].join('\n'),
  );

  const misses: string[] = [];
  if (!(accepted.length > 0 && percentile(accepted, 99) < 200)) misses.push(`p99 of accepted ${pct(accepted, 99)} ms (target < 200)`);
  if (shed.length === 0) misses.push('nothing was shed: the flood did not exceed capacity');
  if (other.length > 0) misses.push(`${other.length} answers neither 202 nor 503`);
  if (!rec.ok) misses.push(`reconciliation: ${rec.reason}`);
  if (persisted !== promised) misses.push(`${promised} promised, ${persisted} persisted`);
  const floorNote =
    intakeFloor.length && percentile(intakeFloor, 99) >= 200
      ? ` (at this rate on this core even the floor misses: p99 ${pct(intakeFloor, 99)} ms)`
      : '';
  console.log(
    misses.length
      ? `targets MISSED: ${misses.join('; ')}${floorNote}`
      : 'targets MET: accepted p99 < 200 ms, the rest shed with 503, every 202 one row',
  );
  failed = misses.length > 0;
} finally {
  const stopping = performance.now();
  await api.stop();
  await consumer.stop();
  const stopMs = Math.round(performance.now() - stopping);
  log(`API stopped (SIGTERM) in ${stopMs} ms`);
  if (stopMs > 10_000) log(`slow shutdown; the API's last lines:\n${api.output().split('\n').slice(-25).join('\n')}`);
  await scratch.flushdb();
  scratch.disconnect();
  await database.drop();
}
if (values.profile) for (const p of profilesIn(profileDir, 25)) console.log(`\n${formatProfile(p)}`);
const errors = api
  .output()
  .split('\n')
  .filter((l) => /"level":(50|60)/.test(l));
if (errors.length) log(`API logged ${errors.length} errors, first: ${errors[0]!.slice(0, 500)}`);
process.exit(failed ? 1 : 0);
