/**
 * `npm run bench:spike [-- --seconds 8] [--clients 64,500,1000,2000] [--factors 2,5] [--flood-conns 2000] [--no-split] [--settings current --capacity N] [--variant KEY=VALUE,...]`
 *
 * The spike as users bring it, against the API with its current overload settings beside the same
 * code with none (MAX_IN_FLIGHT=0), in one run on this machine:
 *
 * 1. Closed loops: 64, 500, 1,000 and 2,000 clients that each send again as soon as they are
 *    answered, as people pressing the button and k6 virtual users do, for --seconds each: a client
 *    refused presses again for the same user, one answered moves on to a (user, coupon) pair not
 *    asked before, on fresh coupons of 10,000,000 units, so whatever is not refused is real work.
 *    (Before 2026-12-04 a refused client moved on to a new pair too.)
 * 2. Open-loop floods at --factors × capacity (capacity: the best 202 rate the unshed API reached
 *    in step 1), latency counted from when each request was due.
 * 3. Settle: every coupon's reconciliation must become consistent, and its rows must equal the 202s
 *    the generator received.
 *
 * The two settings run as two API processes side by side, and take turns load by load (which goes
 * first alternates), so the machine's speed, which drifts over minutes here, and whatever the
 * previous row left behind (the consumer's backlog after a flood) weigh on both alike.
 *
 * The API is confined to the last core and the generator (bench/loadgen) to the first, with the
 * generator's CPU printed for every row (a row whose generator used more than 0.7 of its core is
 * marked: it may have measured the generator). Redis, Kafka, MariaDB and the consumer float.
 * Results are appended to bench/results.json.
 *
 * Targets (issue #15): closed loops at 500, 1,000 and 2,000 clients keep ≥ 90 % of the 64-client
 * 202 rate, refuse nothing while the 202s' p99 stays under 200 ms; floods keep the accepted p99
 * under 200 ms and ≥ 80 % of capacity; every 202 one row. Exits 1 when a target is missed.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { awaitReconciliation } from '../tools/loadtest/reconciliation.ts';
import { machineInfo, readSeedFile } from '../tools/loadtest/runner.ts';
import { percentile, round, sortedCopy } from '../tools/loadtest/stats.ts';
import { testConfig } from '../tools/harness/env.ts';
import type { Proc } from '../tools/harness/processes.ts';
import { createTestTopics, openTestRedis } from '../tools/harness/services.ts';
import { apiReady, createCoupon, freePort, isolatedEnv, OVERLOAD_SETTINGS, productionSettings, ready, seed, spawnNode } from './harness.ts';
import { attack, fromDue, loadgen, pct, shedByReason, tally, type Answer, type Load } from './load.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    clients: { type: 'string', default: '64,500,1000,2000' },
    factors: { type: 'string', default: '2,5' },
    'flood-conns': { type: 'string', default: '4000' },
    users: { type: 'string', default: '20000' },
    /** Which settings to run: both by default; "current" alone needs a capacity (--capacity). */
    settings: { type: 'string', default: 'MAX_IN_FLIGHT=0,current,floor' },
    /**
     * A third setting beside them: the current settings with these overrides (KEY=VALUE,...),
     * named by them, taking its turns like the others. How a change of overload settings is
     * judged on a machine whose speed drifts: in one run, row by row.
     */
    variant: { type: 'string', default: '' },
    capacity: { type: 'string', default: '0' },
    split: { type: 'boolean', default: true },
  },
  strict: true,
  allowNegative: true,
});
const SECONDS = Number(values.seconds);
const CLIENTS = values.clients!.split(',').map(Number);
const FACTORS = values.factors!.split(',').filter(Boolean).map(Number);
const FLOOD_CONNS = Number(values['flood-conns']);
const USERS = Number(values.users);
const UNITS = 10_000_000;
/** The fastest a closed loop could possibly go here (req/s): coupons are made for that many requests. */
const MAX_RATE = 25_000;
const SPLIT = values.split!;
const GEN_CPU = SPLIT ? '0' : `0-${availableParallelism() - 1}`;
const API_CPU = SPLIT ? String(availableParallelism() - 1) : undefined;
/** The unshed API's port; the current settings' API listens on the next one, a --variant's on the one after. */
const API_PORT = 18_110;
const GENERATOR_BOUND = 0.7;
const ROOT = new URL('../', import.meta.url).pathname;

const log = (line: string) => console.error(`[spike] ${line}`);

interface Row {
  /** 'MAX_IN_FLIGHT=0', 'current', or a --variant's overrides. */
  settings: string;
  load: string;
  closed: boolean;
  clients: number;
  rate: number;
  seconds: number;
  sent: number;
  accepted: number;
  acceptedPerSecond: number;
  refused503: number;
  other: Record<string, number>;
  p50: number | string;
  p99: number | string;
  refusedP50: number | string;
  generatorCores: number;
  /** The overload control as /metrics showed it every 250 ms of the row: median and most. */
  control: Record<string, { median: number; max: number }>;
  /** Refusals by reason (http_requests_shed_total) during the row. */
  shedReasons: Record<string, number>;
  /** Each second of the row, by when requests were sent: 202s, 503s and the 202s' p99 (ms). */
  perSecond: { second: number; accepted: number; refused: number; p99: number | string }[];
  coupons: number[];
}

const GAUGES = ['issue_in_flight_limit', 'issue_requests_in_flight', 'issue_throughput_estimate', 'issue_refusals_holding'];

/** Samples the overload gauges every 250 ms until `stop` resolves. */
async function sampleControl(base: string, stop: Promise<unknown>): Promise<Row['control']> {
  const samples = new Map<string, number[]>(GAUGES.map((g) => [g, []]));
  let done = false;
  void stop.finally(() => (done = true));
  while (!done) {
    try {
      const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
      for (const g of GAUGES) {
        const m = new RegExp(`^${g} (\\S+)$`, 'm').exec(text);
        if (m) samples.get(g)!.push(Number(m[1]));
      }
    } catch {
      // A scrape that did not make it in time says nothing.
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const out: Row['control'] = {};
  for (const [g, xs] of samples) {
    if (xs.length === 0) continue;
    const sorted = sortedCopy(xs);
    out[g.replace(/^issue_/, '')] = { median: round(percentile(sorted, 50)), max: round(sorted.at(-1)!) };
  }
  return out;
}

const machine = machineInfo();
log(`${machine.cpuModel} × ${machine.cpus}, Node ${machine.node}, commit ${machine.commit}`);
if (SPLIT && availableParallelism() < 2) throw new Error('needs 2 cores: one for the generator, one for the API (or --no-split)');
loadgen(log);
for (const port of [API_PORT, API_PORT + 1, API_PORT + 2]) if (!(await freePort(port))) throw new Error(`port ${port} is taken`);

const { env, database } = await isolatedEnv('coupons_spike', 3, {
  PORT: String(API_PORT),
  START_CONSUMER: 'false',
  CONSUMER_METRICS_PORT: '0',
  LOG_LEVEL: 'info',
});
productionSettings(env, OVERLOAD_SETTINGS);
const scratch = await openTestRedis(testConfig(env), 'spike');
await createTestTopics(testConfig(env));
const usersFile = join(mkdtempSync(join(tmpdir(), 'fcfs-spike-')), 'users.json');
log(`seeding ${USERS} users`);
await seed(env, USERS, 1, usersFile);
const { publicIds } = readSeedFile(usersFile);
type Setting = string;
const VARIANT = values.variant!;
const SETTING_ENV = new Map<Setting, Record<string, string>>([
  ['MAX_IN_FLIGHT=0', { MAX_IN_FLIGHT: '0', MAX_EVENT_LOOP_DELAY_MS: '0' }],
  ['current', {}],
]);
/** KEY=VALUE split at the first '=' only: a value may hold one (NODE_OPTIONS=--max-semi-space-size=64). */
const override = (kv: string) => {
  const at = kv.indexOf('=');
  return [kv.slice(0, at), kv.slice(at + 1)] as const;
};
if (VARIANT) SETTING_ENV.set(VARIANT, Object.fromEntries(VARIANT.split(',').map(override)));
const portOf = (settings: Setting) => API_PORT + [...SETTING_ENV.keys()].indexOf(settings);
const baseOf = (settings: Setting) => `http://127.0.0.1:${portOf(settings)}`;
/** Where the bench creates coupons and reconciles, and the floor server listens. */
const base = baseOf('MAX_IN_FLIGHT=0');

/** Fresh coupons enough for `requests` distinct (user, coupon) pairs; paths interleave the coupons. */
async function freshPaths(base: string, requests: number): Promise<{ coupons: number[]; paths: string[] }> {
  const coupons: number[] = [];
  for (let i = 0; i < Math.max(1, Math.ceil(requests / publicIds.length)); i++) {
    coupons.push(await createCoupon(base, env.ADMIN_TOKEN!, `spike ${i}`, UNITS));
  }
  const paths: string[] = [];
  for (const u of publicIds) for (const c of coupons) paths.push(`/api/coupons/${c}/issue-fcfs/${u}`);
  return { coupons, paths };
}

async function run(settings: Setting, load: Load, label: string): Promise<Row> {
  const base = baseOf(settings);
  const expected = (load.rate > 0 ? load.rate : MAX_RATE) * load.seconds * 1.05;
  const { coupons, paths } = await freshPaths(base, expected);
  const shedBefore = await shedByReason(base);
  const attacking = attack(label, base, paths, load, GEN_CPU);
  const [{ answers, generatorCores }, control] = await Promise.all([attacking, sampleControl(base, attacking)]);
  const accepted = answers.filter((a) => a.status === 202);
  const refused = answers.filter((a) => a.status === 503);
  const latencies = (xs: Answer[]) => (load.rate > 0 ? fromDue(xs) : sortedCopy(xs.map((a) => a.latencyMs)));
  const ok = latencies(accepted);
  const shedAfter = await shedByReason(base);
  const shedReasons = Object.fromEntries(
    [...shedAfter].map(([reason, n]) => [reason, n - (shedBefore.get(reason) ?? 0)]).filter(([, n]) => (n as number) > 0),
  );
  // Per second of the run as it happened: an open loop's last answers can come long after its schedule ends.
  const spanSeconds = answers.reduce((most, a) => Math.max(most, (a.dueMs + a.lateMs + a.latencyMs) / 1000), load.seconds);
  const row: Row = {
    settings,
    load: label,
    closed: load.rate === 0,
    clients: load.conns,
    rate: load.rate,
    seconds: load.seconds,
    sent: answers.length,
    accepted: accepted.length,
    acceptedPerSecond: Math.round(accepted.length / spanSeconds),
    refused503: refused.length,
    other: tally(answers.filter((a) => a.status !== 202 && a.status !== 503)),
    p50: pct(ok, 50),
    p99: pct(ok, 99),
    refusedP50: pct(latencies(refused), 50),
    generatorCores: round(generatorCores, 2),
    control,
    shedReasons,
    perSecond: perSecond(answers, load.rate > 0),
    coupons,
  };
  log(
    `${settings} ${label}: 202 ${row.acceptedPerSecond}/s (p50 ${row.p50}, p99 ${row.p99} ms), 503 ${row.refused503} (p50 ${row.refusedP50} ms, ${JSON.stringify(shedReasons)}), other ${JSON.stringify(row.other)}; generator ${row.generatorCores} of a core; control ${Object.entries(
      control,
    )
      .map(([k, v]) => `${k} ${v.median}/${v.max}`)
      .join(', ')}; per second (202/503/p99): ${row.perSecond.map((x) => `${x.accepted}/${x.refused}/${x.p99}`).join(' ')}`,
  );
  return row;
}

function perSecond(answers: Answer[], open: boolean): Row['perSecond'] {
  const seconds = new Map<number, Answer[]>();
  for (const a of answers) {
    const second = Math.floor((open ? a.dueMs : a.doneMs - a.latencyMs) / 1000);
    const those = seconds.get(second);
    if (those) those.push(a);
    else seconds.set(second, [a]);
  }
  return [...seconds]
    .sort(([x], [y]) => x - y)
    .map(([second, xs]) => {
      const ok = xs.filter((a) => a.status === 202);
      return {
        second,
        accepted: ok.length,
        refused: xs.filter((a) => a.status === 503).length,
        p99: pct(open ? fromDue(ok) : sortedCopy(ok.map((a) => a.latencyMs)), 99),
      };
    });
}

async function startApi(settings: Setting): Promise<Proc> {
  // SPIKE_API_NODE_ARGS: extra Node flags for the API (e.g. --cpu-prof --cpu-prof-dir=DIR).
  const extra = process.env.SPIKE_API_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const proc = spawnNode(
    ['--disable-warning=TimeoutNegativeWarning', ...extra, 'src/cli/start.ts'],
    { ...env, ...SETTING_ENV.get(settings), PORT: String(portOf(settings)) },
    API_CPU,
  );
  await apiReady(proc, baseOf(settings));
  return proc;
}

/** The settings in the order they take a row's turn: the first row as given, then alternating. */
const turns = (settings: Setting[], row: number): Setting[] => (row % 2 === 0 ? settings : [...settings].reverse());

const consumer = spawnNode(['--disable-warning=TimeoutNegativeWarning', 'src/cli/consumer.ts'], env);
const rows: Row[] = [];
let capacity = Number(values.capacity);
/** The floor's figures per flood factor (latency of a bare 503 server from due). */
const floors: { factor: number; rate: number; answered: number; p50: number | string; p99: number | string; generatorCores: number }[] = [];
const SETTINGS = new Set(values.settings!.split(','));
const apis = new Map<Setting, Proc>();
let api: Proc | undefined;
let failed = false;
try {
  const settingsRun = [...(['MAX_IN_FLIGHT=0', 'current'] as const).filter((x) => SETTINGS.has(x)), ...(VARIANT ? [VARIANT] : [])];
  for (const settings of settingsRun) {
    apis.set(settings, await startApi(settings));
    // Warm: the first second of a process runs cold code.
    await run(settings, { rate: 0, seconds: 2, conns: 64 }, 'warm-up');
  }
  const ran: Row[] = [];
  for (const [i, clients] of CLIENTS.entries())
    for (const settings of turns(settingsRun, i))
      ran.push(await run(settings, { rate: 0, seconds: SECONDS, conns: clients, retryRefused: true }, `closed ${clients}`));
  // The unshed API's best closed-loop rate is the capacity the floods are a multiple of.
  if (SETTINGS.has('MAX_IN_FLIGHT=0'))
    capacity = Math.max(...ran.filter((r) => r.settings === 'MAX_IN_FLIGHT=0').map((r) => r.acceptedPerSecond));
  if (capacity === 0 && FACTORS.length > 0) throw new Error('no capacity to flood at: run MAX_IN_FLIGHT=0 too, or give --capacity');
  for (const [i, factor] of FACTORS.entries())
    for (const settings of turns(settingsRun, CLIENTS.length + i))
      ran.push(await run(settings, { rate: Math.round(capacity * factor), seconds: SECONDS, conns: FLOOD_CONNS }, `open ${factor}×`));
  // Reported a setting at a time, as before the turns.
  rows.push(...settingsRun.flatMap((settings) => ran.filter((r) => r.settings === settings)));
  for (const [settings, proc] of apis) {
    await proc.stop();
    apis.delete(settings);
  }

  // The floor under any shedding: a bare Node server that only answers the API's 503, on the API's
  // core, at each flood's rate. Where it misses, nothing inside the API can meet the target: reading
  // and answering are all it does.
  if (SETTINGS.has('floor') && FACTORS.length > 0) {
    const floor = spawnNode(['bench/intake-server.ts'], { ...env, PORT: String(API_PORT) }, API_CPU);
    try {
      await ready('the floor server', floor, `${base}/`);
      await attack(
        'floor warm-up',
        base,
        ['/api/coupons/1/issue-fcfs/00000000-0000-4000-8000-000000000000'],
        { rate: Math.round(capacity), seconds: 2, conns: FLOOD_CONNS },
        GEN_CPU,
      );
      for (const factor of FACTORS) {
        const load = { rate: Math.round(capacity * factor), seconds: SECONDS, conns: FLOOD_CONNS };
        const { answers, generatorCores } = await attack(
          `floor ${factor}×`,
          base,
          ['/api/coupons/1/issue-fcfs/00000000-0000-4000-8000-000000000000'],
          load,
          GEN_CPU,
        );
        const all = fromDue(answers);
        log(
          `floor open ${factor}×: ${answers.length} answered 503, p50 ${pct(all, 50)}, p99 ${pct(all, 99)} ms from due; generator ${round(generatorCores, 2)} of a core`,
        );
        floors.push({
          factor,
          rate: load.rate,
          answered: answers.length,
          p50: pct(all, 50),
          p99: pct(all, 99),
          generatorCores: round(generatorCores, 2),
        });
      }
    } finally {
      await floor.stop();
    }
  }

  log('settling: every coupon reconciled, rows = 202s');
  api = await startApi('MAX_IN_FLIGHT=0');
  const settle: string[] = [];
  for (const row of rows) {
    let persisted = 0;
    for (const id of row.coupons) {
      const rec = await awaitReconciliation(base, id, env.ADMIN_TOKEN!, 300_000);
      if (!rec.ok) settle.push(`coupon ${id}: ${rec.reason}`);
      persisted += rec.report?.persisted ?? 0;
    }
    if (persisted !== row.accepted) settle.push(`${row.settings} ${row.load}: ${row.accepted} answered 202, ${persisted} rows`);
  }

  const at64 = (settings: Row['settings']) =>
    rows.find((r) => r.settings === settings && r.closed && r.clients === 64)?.acceptedPerSecond ?? 0;
  const mark = (r: Row) => (r.generatorCores > GENERATOR_BOUND ? ' (generator-bound?)' : '');
  const table = [
    '',
    `spike: ${SECONDS} s a row, ${USERS} users, API ${SPLIT ? `on core ${API_CPU}, generator on core ${GEN_CPU}` : 'and generator on every core'}; capacity (best unshed closed loop) ${capacity} req/s`,
    '| load | settings | 202/s | of 64 clients | 503 | other | 202 p50 | 202 p99 | 503 p50 | generator (cores) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.load}${r.closed ? ' clients' : ` (${r.rate}/s)`} | ${r.settings} | ${r.acceptedPerSecond} | ${r.closed ? round(r.acceptedPerSecond / Math.max(1, at64(r.settings)), 2) : `${round(r.acceptedPerSecond / Math.max(1, capacity), 2)} of capacity`} | ${r.refused503} | ${Object.keys(r.other).length ? JSON.stringify(r.other) : 0} | ${r.p50} | ${r.p99} | ${r.refusedP50} | ${r.generatorCores}${mark(r)} |`,
    ),
  ];
  for (const f of floors)
    table.push(
      `floor at ${f.factor}× (${f.rate}/s): a bare Node server answering 503 on the API's core, p50 ${f.p50} ms, p99 ${f.p99} ms from due`,
    );
  console.log(table.join('\n'));

  const misses: string[] = [...settle];
  const base64 = at64('current');
  for (const r of rows.filter((x) => x.settings === 'current')) {
    if (Object.keys(r.other).length > 0) misses.push(`${r.load}: answers neither 202 nor 503 ${JSON.stringify(r.other)}`);
    if (r.closed && r.clients > 64) {
      if (r.acceptedPerSecond < 0.9 * base64) misses.push(`${r.load}: 202 ${r.acceptedPerSecond}/s < 90 % of 64 clients' ${base64}/s`);
      if (typeof r.p99 === 'number' && r.p99 >= 200) misses.push(`${r.load}: 202 p99 ${r.p99} ms`);
      const unshed = rows.find((x) => x.settings === 'MAX_IN_FLIGHT=0' && x.load === r.load);
      if (r.refused503 > 0 && unshed && typeof unshed.p99 === 'number' && unshed.p99 < 200)
        misses.push(`${r.load}: ${r.refused503} refused where no shedding kept p99 ${unshed.p99} ms`);
    }
    if (!r.closed) {
      const floor = floors.find((f) => `open ${f.factor}×` === r.load);
      const floorNote = floor && typeof floor.p99 === 'number' && floor.p99 >= 200 ? ` (the floor misses too: p99 ${floor.p99} ms)` : '';
      if (!(typeof r.p99 === 'number' && r.p99 < 200)) misses.push(`${r.load}: accepted p99 ${r.p99} ms from due${floorNote}`);
      if (r.acceptedPerSecond < 0.8 * capacity) misses.push(`${r.load}: goodput ${r.acceptedPerSecond}/s < 80 % of capacity ${capacity}/s`);
    }
  }
  console.log(misses.length ? `targets MISSED:\n- ${misses.join('\n- ')}` : 'targets MET');
  failed = misses.length > 0;

  const resultsFile = join(ROOT, 'bench', 'results.json');
  const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as { runs: unknown[] };
  results.runs.push({
    bench: 'spike',
    at: new Date().toISOString(),
    machine,
    seconds: SECONDS,
    users: USERS,
    split: SPLIT,
    /** The settings took turns load by load (runs before 2026-12-04 15:30 ran one setting's rows, then the other's). */
    turns: true,
    capacity,
    rows: rows.map(({ coupons: _, ...r }) => r),
    floors,
    misses,
  });
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
} finally {
  for (const proc of apis.values()) await proc.stop();
  await api?.stop();
  await consumer.stop();
  await scratch.flushdb();
  scratch.disconnect();
  await database.drop();
}
process.exit(failed ? 1 : 0);
