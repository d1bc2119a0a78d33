/**
 * `npm run bench [-- --requests N] [--warmup W] [--connections C] [--rounds R] [--profile] [--no-record]`
 *
 * One run on this machine, one table: (a) the ceiling, a bare Fastify route in a child process;
 * (b) the issue route where every request is admitted (stock >= requests, a new user each);
 * (c) the sold-out path (a coupon of 1 unit, already taken; known users); (d) the event-opening
 * scenario of k6/scenarios/ through the load-test runner. (a)-(c) are closed loops of C
 * connections sending N requests after a warm-up, driven by the Go generator (bench/loadgen) on
 * core 0 with its CPU printed, on an API without shedding (they measure what a request costs, not
 * the limiter); (d) is an open model (0→2,000 arrivals/s) against the API with
 * its production settings, restarted and warmed up.
 * (a)-(c) run in rounds (--rounds, 3 by default), a, b and c one after the other in each, as this
 * machine's speed drifts over minutes: each row is the round whose server CPU per request was the
 * median, and its ratios to (a) the median of each round's own. Each row shows requests per second
 * and p50/p95/p99 and their ratios to (a), and the run is appended to bench/results.json with the
 * machine's description, the git commit and every round. (b) also says where its round trip went,
 * from the API's own histograms scraped around its measured requests: a closed loop's rate is its
 * connections over its round trip, so a ratio to (a) at C connections is a latency as much as a CPU.
 *
 * The API runs in its own process on a spare port, on data of its own: database coupons_bench and
 * Redis db 5, both emptied first, and a Kafka topic of its own. --profile (or BENCH_API_NODE_ARGS) starts
 * it under `node --cpu-prof` and ranks the functions by self time.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { runScenarios } from '../tools/loadtest/engine.ts';
import { awaitReconciliation } from '../tools/loadtest/reconciliation.ts';
import { machineInfo, readSeedFile, runLoadTest, writeOutputs, type LoadTestSummary } from '../tools/loadtest/runner.ts';
import { loadScenarioFile, usersNeeded, type ResolvedScenario } from '../tools/loadtest/scenario.ts';
import { lowerMedian, percentile, round, sortedCopy } from '../tools/loadtest/stats.ts';
import { testConfig } from '../tools/harness/env.ts';
import { createTestTopics } from '../tools/harness/services.ts';
import { apiReady, busyBetween, busyShare, cpuTicks, createCoupon, freePort, isolatedEnv, ready, seed, spawnNode } from './harness.ts';
import { loadgen, tally, warmThenMeasure } from './load.ts';
import { formatProfile, profilesIn } from './profile.ts';
import { meanBetween } from './metrics-text.ts';
import { ISSUE_ROUTE } from '../src/http/routes/issue.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const RESULTS = new URL('./results.json', import.meta.url).pathname;

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: process.env.BENCH_REQUESTS ?? '30000' },
    warmup: { type: 'string', default: process.env.BENCH_WARMUP ?? '30000' },
    connections: { type: 'string', default: process.env.BENCH_CONNECTIONS ?? '64' },
    profile: { type: 'boolean', default: false },
    'no-record': { type: 'boolean', default: false },
    note: { type: 'string', default: '' },
    'wait-quiet': { type: 'string', default: '0' },
    cases: { type: 'string', default: 'a,b,c,d' },
    rounds: { type: 'string', default: process.env.BENCH_ROUNDS ?? '3' },
  },
});
const N = Number(values.requests);
const WARMUP = Number(values.warmup);
const C = Number(values.connections);
const ROUNDS = Number(values.rounds);
/** The generator's core (the API floats): one core of Go is far from the limit of what it can send. */
const GEN_CPU = '0';
/** A generator above this share of its core may be what limits a row. */
const GENERATOR_BOUND = 0.7;
for (const [k, v] of Object.entries({ requests: N, warmup: WARMUP, connections: C, rounds: ROUNDS })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);
}
const CASES = new Set(values.cases!.split(',').map((c) => c.trim()));
for (const c of CASES) if (!['a', 'b', 'c', 'd'].includes(c)) throw new Error(`--cases takes a comma-separated subset of a,b,c,d`);
const API_PORT = 18_095;
const BARE_PORT = 18_094;
const work = mkdtempSync(join(tmpdir(), 'fcfs-bench-'));
const profileDir = join(work, 'cpu-profiles');
const extraNodeArgs = [
  ...(process.env.BENCH_API_NODE_ARGS ? process.env.BENCH_API_NODE_ARGS.split(/\s+/).filter(Boolean) : []),
  ...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
];
const log = (line: string) => console.error(`[bench] ${line}`);

interface Row {
  case: string;
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** CPU time of the server process (all its threads) per request, and the generator's CPU share. */
  serverCpuUsPerReq: number | null;
  /** The server's CPU per request over each fifth of the warm-up (bench/load.ts says why it is long). */
  warmupCpuUsPerReq?: (number | null)[];
  generatorCpuPct: number | null;
  /** The generator used more than GENERATOR_BOUND of its core: the row measures the generator too. */
  generatorBound?: boolean;
  outcomes: Record<string, number>;
  /** (b): from the last answer of the loop, which sold the coupon out, to every admission a row (polled every 50 ms). */
  drainLagMs?: number;
  /** Which round of (a)-(c) measured it (1-based), and which of them it is. */
  round?: number;
  key?: CaseKey;
  /** (b): where its requests' time went. */
  time?: AdmittedTime;
}

/**
 * Means over (b)'s measured requests, in ms, from the API's own histograms (a scrape of /metrics
 * before and after) beside the generator's: a closed loop of C connections cannot answer more than
 * C requests per round trip, whatever CPU is left over.
 */
interface AdmittedTime {
  /** What the generator waited for an answer. */
  roundTripMs: number;
  /** From Fastify's taking the request in to its answer (the issue route's 202s). */
  serverMs: number | null;
  /** Waiting in the router for its shard worker. */
  queueWaitMs: number | null;
  /** A batch's work in its shard worker, and its size. */
  batchMs: number | null;
  batchSize: number | null;
  /** One admission script call (Redis, with its append-only-file fsync) and one Kafka send (acks=all). */
  redisScriptMs: number | null;
  kafkaSendMs: number | null;
  /** The server's time less the queue wait and the batch: thread hops and HTTP. */
  restMs: number | null;
  /** C ÷ the round trip: what a closed loop of C connections answers (Little's law). */
  loopBoundRps: number;
  /** Share of the machine's cores busy meanwhile (every process, the generator's too). */
  machineBusy: number;
}

type CaseKey = 'a' | 'b' | 'c';

/** One round of (a)-(c), measured one after the other. */
type Round = Record<CaseKey, Row | null>;

/** A closed-loop scenario: C VUs share N iterations (k6's shared-iterations). */
function closedLoop(name: string, iterations: number, userOffset: number): ResolvedScenario {
  return {
    name,
    executor: 'shared-iterations',
    kind: 'iterations',
    startMs: 0,
    durationMs: 600_000,
    gracefulStopMs: 30_000,
    startValue: C,
    stages: [],
    timeUnitMs: 1_000,
    preAllocatedVUs: 0,
    maxVUs: 0,
    vus: C,
    iterations,
    thinkMs: 0,
    userOffset,
    users: iterations,
  };
}

/**
 * (a)-(c): a closed loop of C connections sending N requests after a warm-up of WARMUP, driven by
 * the Go generator (bench/loadgen) pinned to one core, so the generator is not what limits the row:
 * its CPU is printed, and a row whose generator used more than GENERATOR_BOUND of a core is marked
 * generator-bound rather than compared.
 */
async function measure(
  label: string,
  baseUrl: string,
  path: (i: number) => string,
  offset: number,
  serverPid: number | undefined,
  key: CaseKey,
  roundNo: number,
): Promise<Row> {
  const paths = Array.from({ length: WARMUP + N }, (_, i) => path(offset + i));
  const scrape = key === 'b' ? () => scrapeServer(baseUrl) : undefined;
  const m = await warmThenMeasure(label, baseUrl, paths, { warmup: WARMUP, requests: N, conns: C }, serverPid, GEN_CPU, scrape);
  const { answers, generatorCores } = m;
  const latencies = sortedCopy(answers.map((a) => a.latencyMs));
  const row: Row = {
    case: label,
    requests: answers.length,
    seconds: round(m.seconds),
    rps: m.rps,
    p50: round(percentile(latencies, 50)),
    p95: round(percentile(latencies, 95)),
    p99: round(percentile(latencies, 99)),
    max: round(latencies.at(-1) ?? 0),
    serverCpuUsPerReq: m.serverCpuUsPerReq === null ? null : Math.round(m.serverCpuUsPerReq),
    warmupCpuUsPerReq: m.warmupCpuUsPerReq,
    generatorCpuPct: Math.round(generatorCores * 100),
    outcomes: tally(answers),
    round: roundNo,
    key,
  };
  if (generatorCores > GENERATOR_BOUND) row.generatorBound = true;
  if (m.snapshots) row.time = admittedTime(m.snapshots, answers);
  log(
    `${label}${ROUNDS > 1 ? `, round ${roundNo} of ${ROUNDS}` : ''}: ${row.rps} req/s, p50 ${row.p50} ms, p95 ${row.p95} ms, p99 ${row.p99} ms; server ${row.serverCpuUsPerReq} µs CPU/request (warm-up fifths ${m.warmupCpuUsPerReq.join(' → ')}), generator ${row.generatorCpuPct} % of core ${GEN_CPU}${row.generatorBound ? ' (GENERATOR-BOUND)' : ''}; ${JSON.stringify(row.outcomes)}`,
  );
  return row;
}

/** The API's metrics and the machine's CPU counters at one moment. */
interface ServerSnapshot {
  metrics: string;
  /** /proc/stat's first line: every core's time by state, in ticks. */
  cpuTicks: number[];
}

async function scrapeServer(baseUrl: string): Promise<ServerSnapshot> {
  const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
  return { metrics, cpuTicks: cpuTicks() };
}

function admittedTime(
  { before, after }: { before: ServerSnapshot; after: ServerSnapshot },
  answers: readonly { latencyMs: number }[],
): AdmittedTime {
  const ms = (name: string, match: Record<string, string> = {}) => {
    const mean = meanBetween(before.metrics, after.metrics, name, match);
    return mean === null ? null : round(mean * 1000, 2);
  };
  const roundTripMs = answers.reduce((sum, a) => sum + a.latencyMs, 0) / Math.max(1, answers.length);
  const batchSize = meanBetween(before.metrics, after.metrics, 'shard_batch_size');
  const serverMs = ms('http_request_duration_seconds', { route: ISSUE_ROUTE, method: 'POST', status_code: '202' });
  const queueWaitMs = ms('issue_queue_wait_seconds');
  const batchMs = ms('shard_batch_duration_seconds');
  return {
    roundTripMs: round(roundTripMs, 2),
    serverMs,
    queueWaitMs,
    batchMs,
    batchSize: batchSize === null ? null : round(batchSize, 1),
    redisScriptMs: ms('redis_script_duration_seconds', { script: 'admit' }),
    kafkaSendMs: ms('kafka_produce_duration_seconds'),
    restMs: serverMs !== null && queueWaitMs !== null && batchMs !== null ? round(serverMs - queueWaitMs - batchMs, 2) : null,
    loopBoundRps: Math.round((C * 1000) / roundTripMs),
    machineBusy: round(busyBetween(before.cpuTicks, after.cpuTicks), 2),
  };
}

/** (b)'s time as a sentence for the table's notes. */
function timeLine(t: AdmittedTime, rps: number): string {
  return (
    `(b)'s time, means over its measured requests from the API's own histograms: the generator waited ${t.roundTripMs} ms for an answer, ` +
    `the server took ${t.serverMs ?? '-'} ms (waiting for its shard worker ${t.queueWaitMs ?? '-'}; its batch of ${t.batchSize ?? '-'} in the worker ${t.batchMs ?? '-'}, ` +
    `of which one Redis admission script, fsync included, ${t.redisScriptMs ?? '-'} and one Kafka send (acks=all) ${t.kafkaSendMs ?? '-'}; the rest, thread hops and HTTP, ${t.restMs ?? '-'}). ` +
    `${C} connections ÷ ${t.roundTripMs} ms = ${t.loopBoundRps} req/s (it answered ${rps}): a closed loop answers one request per connection per round trip, ` +
    `and the machine's cores were ${Math.round(t.machineBusy * 100)} % busy meanwhile.`
  );
}

// ---------------------------------------------------------------------------------------------
const waitQuietMs = Number(values['wait-quiet']) * 60_000;
let busyBefore = await busyShare();
if (waitQuietMs > 0) {
  // Others' work on a shared machine skews every figure: wait for three quiet samples in a row.
  const until = Date.now() + waitQuietMs;
  let quiet = 0;
  while (quiet < 3 && Date.now() < until) {
    busyBefore = await busyShare();
    quiet = busyBefore < 0.2 ? quiet + 1 : 0;
    if (quiet === 0) log(`machine ${Math.round(busyBefore * 100)} % busy; waiting for it to be quiet`);
  }
}
const machine = machineInfo();
loadgen(log);
log(`machine ${Math.round(busyBefore * 100)} % busy before the run`);
log(
  `${machine.cpuModel} × ${machine.cpus}, ${machine.memoryGiB} GiB, Node ${machine.node}, commit ${machine.commit}; ${N} requests after ${WARMUP} warm-up, ${C} connections`,
);
if (machine.uncommitted.length)
  log(`note: uncommitted changes in ${machine.uncommitted.join(', ')}: the code measured is not exactly ${machine.commit}`);
if (machine.loadavg[0]! > 0.5 * machine.cpus)
  log(
    `WARNING: load average ${machine.loadavg.join(' ')} on ${machine.cpus} cores before the run: other work on this machine will skew the figures`,
  );
const uuids = Array.from({ length: WARMUP + N }, () => randomUUID());

// (a)-(c) in rounds, interleaved: this machine's speed drifts over minutes (the same code measured
// 46 and 63 µs a request in consecutive runs), so each round compares its cases close together in
// time, and the table gives the median round's rows and each ratio's median over the rounds.
if (!(await freePort(BARE_PORT))) throw new Error(`port ${BARE_PORT} is taken`);
if (!(await freePort(API_PORT))) throw new Error(`port ${API_PORT} is taken`);
const bare = spawnNode(['bench/bare-server.ts'], { ...(process.env as Record<string, string>), PORT: String(BARE_PORT) });
const metricsPort = (await freePort(9464)) ? '9464' : '0';
// On data of its own (isolatedEnv says why).
const { env, database } = await isolatedEnv('coupons_bench', 5, {
  PORT: String(API_PORT),
  START_CONSUMER: 'true',
  CONSUMER_METRICS_PORT: metricsPort,
  LOG_LEVEL: 'warn',
});
const adminToken = env.ADMIN_TOKEN!;
await createTestTopics(testConfig(env));
const opening = loadScenarioFile('event-opening');
const files = {
  admitted: join(work, 'admitted.json'),
  soldOut: join(work, 'sold-out.json'),
  opening: join(work, 'opening.json'),
  warm: join(work, 'warm.json'),
};
// Every user the API will see is seeded before it starts, so its shard workers preload them all;
// later rounds make coupons of their own and reuse these users.
log('seeding users and coupons');
await seed(env, WARMUP + N, WARMUP + N, files.admitted);
await seed(env, WARMUP + N + 1, 1, files.soldOut);
await seed(env, usersNeeded(opening), opening.stock, files.opening);
await seed(env, WARMUP, WARMUP, files.warm);

const base = `http://127.0.0.1:${API_PORT}`;
if (extraNodeArgs.length) log(`API under node ${extraNodeArgs.join(' ')}`);
const startApi = (overrides: Record<string, string>) =>
  spawnNode([...extraNodeArgs, '--disable-warning=TimeoutNegativeWarning', 'src/cli/start.ts'], { ...env, ...overrides });
// (b) and (c) measure what a request costs with every connection busy, a closed loop that keeps
// the process saturated by design: shedding there would measure the limiter, so it is off. (d), the
// realistic open model, meets an API with the production settings.
let api = startApi({ MAX_IN_FLIGHT: '0', MAX_EVENT_LOOP_DELAY_MS: '0' });
const rounds: Round[] = [];
let summaryD: LoadTestSummary | null = null;
const checks: string[] = [];
try {
  await ready('the bare server', bare, `http://127.0.0.1:${BARE_PORT}/`);
  await apiReady(api, base);
  const a = readSeedFile(files.admitted);
  const s = readSeedFile(files.soldOut);
  for (let r = 0; r < ROUNDS; r++) {
    const tag = ROUNDS > 1 ? `, round ${r + 1}` : '';
    const round: Round = { a: null, b: null, c: null };
    // (a) The ceiling.
    if (CASES.has('a'))
      round.a = await measure(
        '(a) bare Fastify route',
        `http://127.0.0.1:${BARE_PORT}`,
        (i) => `/api/coupons/1/issue-fcfs/${uuids[i]}`,
        0,
        bare.child.pid,
        'a',
        r + 1,
      );

    // (b) Every request admitted.
    if (CASES.has('b')) {
      const couponId = r === 0 ? a.couponId : await createCoupon(base, adminToken, `bench admitted ${r + 1}`, WARMUP + N);
      round.b = await measure(
        '(b) issue route, admitted',
        base,
        (i) => `/api/coupons/${couponId}/issue-fcfs/${a.publicIds[i]}`,
        0,
        api.child.pid,
        'b',
        r + 1,
      );
      if ((round.b.outcomes['202 ACCEPTED'] ?? 0) !== N)
        checks.push(`(b)${tag}: expected ${N} × 202, got ${JSON.stringify(round.b.outcomes)}`);
      log('(b) waiting for the consumer to persist every admission');
      // The loop's last request took the last unit: how far behind the consumer was at the sell-out.
      const recB = await awaitReconciliation(base, couponId, adminToken, 300_000, 50);
      if (!recB.ok) checks.push(`(b)${tag} reconciliation: ${recB.reason}`);
      else round.b.drainLagMs = recB.waitedMs;
      log(`(b) reconciliation ${recB.reason} after ${(recB.waitedMs / 1000).toFixed(2)} s: the drain lag after the sell-out`);
    }

    // (c) Sold out: one unit, taken before the measurement.
    if (CASES.has('c')) {
      const couponId = r === 0 ? s.couponId : await createCoupon(base, adminToken, `bench sold out ${r + 1}`, 1);
      const first = await fetch(`${base}/api/coupons/${couponId}/issue-fcfs/${s.publicIds[0]}`, { method: 'POST' });
      if (first.status !== 202) throw new Error(`(c) the one unit was not admitted: ${first.status} ${await first.text()}`);
      round.c = await measure(
        '(c) issue route, sold out',
        base,
        (i) => `/api/coupons/${couponId}/issue-fcfs/${s.publicIds[i + 1]}`,
        0,
        api.child.pid,
        'c',
        r + 1,
      );
      if ((round.c.outcomes['409 SOLD_OUT'] ?? 0) !== N)
        checks.push(`(c)${tag}: expected ${N} × 409 SOLD_OUT, got ${JSON.stringify(round.c.outcomes)}`);
      const recC = await awaitReconciliation(base, couponId, adminToken, 120_000);
      if (!recC.ok) checks.push(`(c)${tag} reconciliation: ${recC.reason}`);
    }
    rounds.push(round);
  }
  await bare.stop();

  // (d) The event opening, through the runner.
  if (CASES.has('d')) {
    await api.stop();
    api = startApi({});
    await apiReady(api, base);
    // Warmed up as the other cases are (admissions of a coupon of its own): an opening meets a process
    // that has been serving, not one whose code has never run.
    const w = readSeedFile(files.warm);
    const warm = await runScenarios({
      baseUrl: base,
      scenarios: [closedLoop('warmup', WARMUP, 0)],
      path: (i) => `/api/coupons/${w.couponId}/issue-fcfs/${w.publicIds[i]}`,
    });
    if (warm.aborted) throw new Error(`(d) warm-up: ${warm.aborted}`);
    summaryD = await runLoadTest({
      scenario: 'event-opening',
      baseUrl: base,
      usersFile: files.opening,
      adminToken,
      prometheusUrl: 'http://127.0.0.1:9090',
      kafkaTopic: env.KAFKA_TOPIC!,
      reconcileTimeoutMs: 180_000,
      log,
    });
    const out = writeOutputs(summaryD, join(ROOT, '.data', 'bench', new Date().toISOString().replace(/[:.]/g, '-')));
    log(`(d) report ${out.html}`);
  }
} finally {
  await bare.stop();
  await api.stop();
  await database.drop();
}
if (api.output().match(/"level":(50|60)/))
  log(
    `API logged errors:\n${api
      .output()
      .split('\n')
      .filter((l) => /"level":(50|60)/.test(l))
      .slice(0, 10)
      .join('\n')}`,
  );

const d = summaryD?.metrics.http_req_duration;
const rowD: Row | null =
  summaryD && d
    ? {
        case: '(d) event opening 0→2,000/s',
        requests: summaryD.metrics.http_reqs.count,
        seconds: summaryD.durationS,
        rps: Math.round(summaryD.metrics.http_reqs.rate),
        p50: d.med,
        p95: d.p95,
        p99: d.p99,
        max: d.max,
        serverCpuUsPerReq: null,
        generatorCpuPct: null,
        outcomes: summaryD.outcomes,
      }
    : null;
const ratio = (x: number | null | undefined, y: number | null | undefined) => (x != null && y != null && y > 0 ? round(x / y, 2) : null);
/** A case's row from the round whose server CPU per request was the median: every figure in it measured together. */
function medianRow(key: CaseKey): Row | null {
  const measured = rounds.map((r) => r[key]).filter((r): r is Row => r !== null);
  const cpu = lowerMedian(measured.map((r) => r.serverCpuUsPerReq));
  return measured.find((r) => r.serverCpuUsPerReq === cpu) ?? measured[0] ?? null;
}
/** Server CPU efficiency against the ceiling in each round: (a)'s CPU per request over the case's (1 = as cheap as the bare route). */
const cpuRatios = (key: CaseKey) => rounds.map((r) => (r[key] ? ratio(r.a?.serverCpuUsPerReq, r[key].serverCpuUsPerReq) : null));
/** Throughput against the ceiling in each round; none in a round where either row's generator may have been its limit. */
const rpsRatios = (key: CaseKey) =>
  rounds.map((r) => (!r[key] || r[key].generatorBound || !r.a || r.a.generatorBound ? null : ratio(r[key].rps, r.a.rps)));
const cpuRatio = (r: Row) => (r.key ? lowerMedian(cpuRatios(r.key)) : null);
const rpsRatio = (r: Row | null): number | null => (r?.key ? lowerMedian(rpsRatios(r.key)) : null);
/** A case's own ratios, each round's: none for the ceiling and (d). */
const ratiosByRound = (r: Row) => (r.key && r.key !== 'a' ? { cpu: cpuRatios(r.key), rps: rpsRatios(r.key) } : null);

const rowA = medianRow('a');
const rowB = medianRow('b');
const rowC = medianRow('c');
const rows = [rowA, rowB, rowC, rowD].filter((r): r is Row => r !== null);

/**
 * A row's target against the ceiling: judged on throughput when both rows measured the server;
 * when the ceiling was its generator's, on server CPU per request, the throughput ratio the server
 * alone would allow (a generator-bound ceiling would flatter any ratio to it).
 */
function vsCeiling(r: Row | null, min: number) {
  const rps = rpsRatio(r);
  const cpu = r ? cpuRatio(r) : null;
  const judged = rps ?? cpu;
  return {
    ratio: rps,
    cpuRatio: cpu,
    judgedBy: rps !== null ? 'throughput' : 'server CPU',
    target: `>= ${min.toFixed(2)}`,
    ok: (judged ?? 0) >= min,
  };
}
const targetLine = (name: string, t: ReturnType<typeof vsCeiling>) =>
  `${name} ${t.ratio ?? t.cpuRatio} of the ceiling by ${t.judgedBy}${t.ratio === null ? ' (the ceiling is generator-bound)' : ''} (${t.target}) ${t.ok ? 'MET' : 'MISSED'}; `;

const targets = {
  soldOutVsCeiling: vsCeiling(rowC, 0.8),
  admittedVsCeiling: vsCeiling(rowB, 0.4),
  eventOpening:
    summaryD && d
      ? {
          p95: d.p95,
          p99: d.p99,
          fivexx: summaryD.metrics.http_5xx.count,
          dropped: summaryD.metrics.dropped_iterations.count,
          reconciliation: summaryD.reconciliation.reason,
          thresholds: summaryD.thresholds,
          ok: summaryD.passed,
        }
      : null,
};

const pad = (s: string | number, n: number) => String(s).padStart(n);
const lines = [
  `${'case'.padEnd(30)}${pad('requests', 10)}${pad('req/s', 9)}${pad('p50 ms', 9)}${pad('p95 ms', 9)}${pad('p99 ms', 9)}${pad('req/s÷(a)', 11)}${pad('p50÷(a)', 9)}${pad('p95÷(a)', 9)}${pad('p99÷(a)', 9)}${pad('srv µs/req', 12)}${pad('CPU (a)÷', 10)}${pad('gen %', 7)}${pad('round', 7)}  CPU (a)÷ by round`,
  ...rows.map(
    (r) =>
      `${r.case.padEnd(30)}${pad(r.requests, 10)}${pad(r.rps, 9)}${pad(r.p50, 9)}${pad(r.p95, 9)}${pad(r.p99, 9)}${pad(rpsRatio(r) ?? '-', 11)}${pad(ratio(r.p50, rowA?.p50) ?? '-', 9)}${pad(ratio(r.p95, rowA?.p95) ?? '-', 9)}${pad(ratio(r.p99, rowA?.p99) ?? '-', 9)}${pad(r.serverCpuUsPerReq ?? '-', 12)}${pad(cpuRatio(r) ?? '-', 10)}${pad(r.generatorCpuPct ?? '-', 7)}${pad(r.round ?? '-', 7)}  ${
        ratiosByRound(r)
          ?.cpu.map((x) => x ?? '-')
          .join(' ') ?? ''
      }${r.generatorBound ? '  generator-bound: not a measure of the server' : ''}`,
  ),
  '',
  `targets: ${rowC && rowA ? targetLine('sold out', targets.soldOutVsCeiling) : ''}` +
    `${rowB && rowA ? targetLine('admitted', targets.admittedVsCeiling) : ''}` +
    `${summaryD && d ? `event opening p95 ${d.p95} ms (< 50), p99 ${d.p99} ms (< 150), 5xx ${summaryD.metrics.http_5xx.count}, dropped ${summaryD.metrics.dropped_iterations.count}, reconciliation ${summaryD.reconciliation.reason}: ${summaryD.passed ? 'MET' : 'MISSED'}` : ''}`,
  `"CPU (a)÷" is the bare route's server CPU per request over this row's: the throughput ratio the server alone would allow if it had the cores to itself.`,
  `(a)-(c) ran in ${ROUNDS} ${ROUNDS === 1 ? 'round' : 'rounds'}, a, b, c one after the other in each: a row is the round whose server CPU per request was the median, and "÷ (a)" ratios are the median of each round's own (throughput only over rounds where neither generator was its row's limit).`,
  ...(rowB?.time ? [timeLine(rowB.time, rowB.rps)] : []),
  `${rowB?.drainLagMs !== undefined ? `(b) sold its coupon out with its last request; every admission was a row ${rowB.drainLagMs} ms after the last answer (the consumer's lag at the sell-out, polled every 50 ms).\n` : ''}(d) is an open model at a fixed schedule of 15,000 arrivals, so its req/s is the schedule's, not a capacity; (a)-(c): ${C} connections, ${N} requests after ${WARMUP} warm-up.`,
  `Machine ${Math.round(busyBefore * 100)} % busy just before the run; load average at the start ${machine.loadavg.join(' ')}, at the end ${loadavg()
    .map((x) => round(x, 2))
    .join(' ')}${machine.uncommitted.length ? `; uncommitted changes in ${machine.uncommitted.join(', ')}` : ''}.`,
  `The generator runs on the same ${machine.cpus} cores as the server (and Redis, Kafka, MariaDB): "gen %" is its CPU share of one core; "srv µs/req" is the server process's CPU time (all threads) per request.`,
];
if (checks.length) lines.push(`checks failed: ${checks.join('; ')}`);
console.log(lines.join('\n'));

const prof = profilesIn(profileDir, 15);
for (const p of prof) console.log(`\n${formatProfile(p)}`);

if (CASES.size < 4) log('not recorded in bench/results.json: not every case ran');
else if (!values['no-record']) {
  const history = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as { runs: unknown[] }) : { runs: [] };
  history.runs.push({
    at: new Date().toISOString(),
    note: values.note || undefined,
    machine,
    loadavgAtEnd: loadavg().map((x) => round(x, 2)),
    busyBefore: round(busyBefore, 2),
    settings: {
      requests: N,
      warmup: WARMUP,
      connections: C,
      rounds: ROUNDS,
      apiNodeArgs: extraNodeArgs.filter((a) => !a.startsWith('--cpu-prof-dir')),
    },
    rows: rows.map((r) => ({
      ...r,
      rpsVsCeiling: rpsRatio(r),
      p50VsCeiling: ratio(r.p50, rowA?.p50),
      p95VsCeiling: ratio(r.p95, rowA?.p95),
      p99VsCeiling: ratio(r.p99, rowA?.p99),
      cpuVsCeiling: cpuRatio(r),
      ...(ratiosByRound(r) ? { cpuVsCeilingByRound: ratiosByRound(r)!.cpu, rpsVsCeilingByRound: ratiosByRound(r)!.rps } : {}),
    })),
    targets: {
      ...targets,
      eventOpening: targets.eventOpening && {
        ...targets.eventOpening,
        thresholds: targets.eventOpening.thresholds.map((t) => `${t.key} ${t.expression}: ${t.actual} ${t.ok ? 'ok' : 'FAIL'}`),
      },
    },
    rounds: rounds.map((r) => [r.a, r.b, r.c].filter((row): row is Row => row !== null)),
    checks,
    profile: prof.map((p) => ({ file: p.file.replace(/^.*\//, ''), busyMs: p.busyMs, top: p.top.slice(0, 10) })),
  });
  mkdirSync(new URL('./', import.meta.url).pathname, { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(history, null, 2)}\n`);
  log(`appended to ${RESULTS}`);
}
process.exit(0);
