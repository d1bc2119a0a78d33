/**
 * What scraping /metrics costs the API during a storm.
 *
 *   npm exec -- node bench/scrape-cost.ts [--requests 30000] [--pairs 3] [--interval-ms 1000] [--port 18090]
 *
 * Starts the real API (src/cli/start.ts, its shard workers, no consumer) on --port against the
 * local services (`npm run services`), then fires the same storm at it again and again: --requests
 * issue requests from as many distinct users at a coupon with enough stock for all of them (every
 * request admitted, so each runs the whole path: shard worker, Redis script, Kafka produce). Runs
 * alternate between no scraping ("off") and a scraper fetching /metrics every --interval-ms
 * ("on"), in the order off,on,on,off,... so a drift (a warming JIT, Kafka's log growing, another
 * process on the machine) falls on both sides. A warm-up run is not counted. Prints each run's
 * throughput, the median per mode and the cost: (median off - median on) / median off.
 *
 * The load generator runs on the same machine and competes with the API for CPU, as does anything
 * else running (the load average is printed before and after): compare the spread of the runs
 * within one mode with the difference between modes before believing a figure.
 *
 * So it also measures the cost in CPU time, which other processes disturb far less: the API
 * process's own CPU time (/proc/<pid>/stat, all its threads) for 200 scrapes of the idle API, and
 * per run for the storm. Scraping once per interval then costs
 *   (CPU per scrape / interval) / (API CPU per second while serving the storm)
 * of the API's capacity, which is the throughput lost when the API is CPU-bound.
 *
 * Load shedding is off (MAX_IN_FLIGHT=0, MAX_EVENT_LOOP_DELAY_MS=0): on a busy machine it would
 * answer part of a run with cheap 503s and measure the shedding instead.
 */
import { loadavg, availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { AdmissionScripts } from '../src/store/scripts.ts';
import { createCoupon } from '../src/catalog/coupons.ts';
import { createUsers, type CreatedUser } from '../src/catalog/users.ts';
import { testConfig, testEnv } from '../tools/harness/env.ts';
import { Client } from '../tools/harness/http.ts';
import { startApi } from '../tools/harness/processes.ts';
import { createTestTopics, openTestOrm, openTestRedis } from '../tools/harness/services.ts';
import { fire, type StormRequest } from '../tools/harness/storm.ts';
import { processCpuMs } from './harness.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '30000' },
    pairs: { type: 'string', default: '3' },
    'interval-ms': { type: 'string', default: '1000' },
    port: { type: 'string', default: '18090' },
    sockets: { type: 'string', default: '128' },
  },
  strict: true,
});
const int = (name: keyof typeof values, min: number): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${values[name]}`);
  return n;
};
const REQUESTS = int('requests', 100);
const PAIRS = int('pairs', 1);
const INTERVAL_MS = int('interval-ms', 50);
const PORT = int('port', 1);
const SOCKETS = int('sockets', 1);

type Mode = 'off' | 'on';
interface RunResult {
  mode: Mode;
  rps: number;
  seconds: number;
  /** API CPU time per second of the run, in ms (1000 = one core busy). */
  cpuPerSecond: number;
  non202: Record<string, number>;
  scrapes: number;
  scrapeMs: number[];
  scrapeBytes: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const env = testEnv({
  PORT: String(PORT),
  START_CONSUMER: 'false',
  CONSUMER_METRICS_PORT: '0',
  LOG_LEVEL: 'warn',
  MAX_IN_FLIGHT: '0',
  MAX_EVENT_LOOP_DELAY_MS: '0',
});
/** CPU time (user + system, every thread) the process has used so far, in ms. */
const cpuMs = (pid: number): number => processCpuMs(pid)!;
const config = testConfig(env);
const base = `http://127.0.0.1:${PORT}`;

console.log(
  `scrape cost: ${REQUESTS} requests per run, ${PAIRS} pairs, scrape every ${INTERVAL_MS} ms, ${SOCKETS} sockets, ${availableParallelism()} CPUs, shards ${config.shards}`,
);
console.log(`load average before: ${load()}`);

await createTestTopics(config);
const orm = await openTestOrm(config);
const redis = await openTestRedis(config);
const scripts = new AdmissionScripts(redis);
const tag = Date.now().toString(36);
const users: CreatedUser[] = [];
for (let i = 0; i < REQUESTS; i += 5_000) {
  const names = Array.from({ length: Math.min(5_000, REQUESTS - i) }, (_, j) => `bench-scrape-${tag}-${i + j}`);
  users.push(...(await createUsers(orm, redis, names)));
}

const api = await startApi(env);
const client = new Client(base, SOCKETS);

const pid = api.child.pid!;

/** Scrapes of the idle API: wall time of one, and the API's CPU time per scrape. */
async function idleScrapes(n: number): Promise<{ ms: number; cpuMs: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  await new Promise((r) => setTimeout(r, 1_000));
  const cpu0 = cpuMs(pid);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    bytes = (await (await fetch(`${base}/metrics`)).text()).length;
    times.push(performance.now() - t);
  }
  const cpu = cpuMs(pid) - cpu0;
  // The idle API's own background work over the same time (timers, Kafka heartbeats, GC).
  const wall = times.reduce((a, b) => a + b, 0);
  const cpuIdle0 = cpuMs(pid);
  await new Promise((r) => setTimeout(r, wall));
  const background = cpuMs(pid) - cpuIdle0;
  return { ms: median(times), cpuMs: Math.max(0, cpu - background) / n, bytes };
}

async function run(mode: Mode, label: string): Promise<RunResult> {
  // A fresh coupon per run with stock for everyone: every request is a first-time admission.
  const coupon = await createCoupon({ orm, redis, scripts }, { name: `bench scrape ${label}`, totalQuantity: REQUESTS });
  const requests: StormRequest[] = users.map((u) => ({ kind: 'known', couponId: coupon.id, publicId: u.publicId }));
  const scrapeMs: number[] = [];
  let scrapeBytes = 0;
  let scraping = mode === 'on';
  const scraper = (async () => {
    while (scraping) {
      await new Promise((r) => setTimeout(r, INTERVAL_MS));
      if (!scraping) break;
      const t = performance.now();
      const body = await (await fetch(`${base}/metrics`)).text();
      scrapeMs.push(performance.now() - t);
      scrapeBytes = body.length;
    }
  })();
  const cpu0 = cpuMs(pid);
  const started = performance.now();
  const results = await fire([client], requests);
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuMs(pid) - cpu0;
  scraping = false;
  await scraper;
  const non202: Record<string, number> = {};
  for (const r of results)
    if (r.status !== 202)
      non202[`${r.status} ${r.body?.code ?? ''}`.trim()] = (non202[`${r.status} ${r.body?.code ?? ''}`.trim()] ?? 0) + 1;
  return { mode, rps: REQUESTS / seconds, seconds, cpuPerSecond: cpu / seconds, non202, scrapes: scrapeMs.length, scrapeMs, scrapeBytes };
}

const runs: RunResult[] = [];
let idle = { ms: NaN, cpuMs: NaN, bytes: 0 };
try {
  const warm = await run('off', 'warm-up');
  console.log(`warm-up: ${Math.round(warm.rps)} req/s in ${warm.seconds.toFixed(2)} s (not counted)`);
  idle = await idleScrapes(200);
  console.log(
    `idle API: one scrape takes ${idle.ms.toFixed(1)} ms (median of 200) and ${idle.cpuMs.toFixed(2)} ms of API CPU time, for ${(idle.bytes / 1024).toFixed(0)} KiB`,
  );
  const order: Mode[] = [];
  for (let p = 0; p < PAIRS; p++) order.push(...(p % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)));
  for (const [i, mode] of order.entries()) {
    const r = await run(mode, `${i}`);
    runs.push(r);
    const scrape = r.scrapes
      ? `, ${r.scrapes} scrapes of ${(r.scrapeBytes / 1024).toFixed(0)} KiB, median ${median(r.scrapeMs).toFixed(1)} ms, max ${Math.max(...r.scrapeMs).toFixed(1)} ms`
      : '';
    const other = Object.keys(r.non202).length ? `, not 202: ${JSON.stringify(r.non202)}` : '';
    console.log(
      `run ${i + 1} scrape ${mode.padEnd(3)}: ${Math.round(r.rps)} req/s in ${r.seconds.toFixed(2)} s, API CPU ${(r.cpuPerSecond / 1000).toFixed(2)} cores${other}${scrape}`,
    );
  }
} finally {
  client.close();
  // Why requests were not admitted, if they were not: the API's warnings and errors, by message.
  const reasons: Record<string, number> = {};
  for (const line of api.output().split('\n')) {
    const m = /"level":(?:40|50)[\s\S]*?"msg":"([^"]*)"/.exec(line);
    if (m) reasons[m[1]!] = (reasons[m[1]!] ?? 0) + 1;
  }
  if (Object.keys(reasons).length) console.log(`API warnings/errors: ${JSON.stringify(reasons)}`);
  await api.stop();
  redis.disconnect();
  await orm.close();
}

const off = runs.filter((r) => r.mode === 'off').map((r) => r.rps);
const on = runs.filter((r) => r.mode === 'on').map((r) => r.rps);
const cost = ((median(off) - median(on)) / median(off)) * 100;
const spread = (xs: number[]) => ((Math.max(...xs) - Math.min(...xs)) / median(xs)) * 100;
console.log(`load average after: ${load()}`);
console.log(`median throughput: scrape off ${Math.round(median(off))} req/s, scrape on ${Math.round(median(on))} req/s`);
console.log(`spread within a mode (max-min)/median: off ${spread(off).toFixed(1)} %, on ${spread(on).toFixed(1)} %`);
console.log(`scrape cost, measured throughput: ${cost.toFixed(2)} % (target < 2 %; negative: scraping looked faster, i.e. noise)`);
// CPU view: what one scrape per interval takes out of what the API spends serving the storm.
const stormCpuPerSecond = median(runs.filter((r) => r.mode === 'off').map((r) => r.cpuPerSecond));
const scrapeCpuPerSecond = idle.cpuMs * (1000 / INTERVAL_MS);
console.log(
  `scrape cost, CPU time: ${scrapeCpuPerSecond.toFixed(2)} ms/s of scraping against ${stormCpuPerSecond.toFixed(0)} ms/s the API uses in a storm = ${((scrapeCpuPerSecond / stormCpuPerSecond) * 100).toFixed(2)} % (target < 2 %)`,
);
if (runs.some((r) => Object.keys(r.non202).length > 0))
  console.log('note: some requests were not admitted (202); they are counted in the throughput');
