/**
 * `npm run bench:users [-- --users 1000,1000000,10000000] [--requests 20000] [--connections 64]`
 *
 * Whether a request costs the same with a thousand registered users as with ten million. For each
 * count, in one scratch database and one Redis db grown from one count to the next: the users are
 * written in bulk (database rows and the Redis directory admission reads), the API is started
 * afresh (its shard workers preload what USER_PRELOAD_MAX lets them, at most USER_CACHE_MAX kept),
 * and two closed loops run with users drawn at random from all of them, driven by the Go
 * generator on core 0: every request admitted (fresh coupons, each (user, coupon) pair once), then
 * every request answered sold out. Printed per count: req/s, the API's CPU per request (/proc, every thread), its resident
 * memory, the users its workers hold, Redis's memory, and how often Redis forked (a snapshot or an AOF
 * rewrite) during the loops. Appended to bench/results.json.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { openOrm } from '../src/store/database/orm.ts';
import { USERS_BY_PUBLIC_ID } from '../src/store/keys.ts';
import { connectRedis, createRedis } from '../src/store/redis.ts';
import { machineInfo } from '../tools/loadtest/runner.ts';
import { round } from '../tools/loadtest/stats.ts';
import { testConfig, testEnv } from '../tools/harness/env.ts';
import { createTestTopics } from '../tools/harness/services.ts';
import { eventually } from '../tools/harness/processes.ts';
import { apiReady, busyShare, createCoupon, freePort, productionSettings, scratchDatabase, seed, spawnNode } from './harness.ts';
import { loadgen, tally, warmThenMeasure } from './load.ts';

const RESULTS = new URL('./results.json', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '1000,1000000,10000000' },
    requests: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '3000' },
    connections: { type: 'string', default: '64' },
  },
  strict: true,
});
const COUNTS = values.users!.split(',').map(Number);
const N = Number(values.requests);
const WARMUP = Number(values.warmup);
const C = Number(values.connections);
if (COUNTS.some((c, i) => !Number.isInteger(c) || c < 1 || (i > 0 && c <= COUNTS[i - 1]!)))
  throw new Error('--users: rising positive counts');
const GEN_CPU = '0';
const API_PORT = 18_098;
/** Users a row's requests are drawn from: a uniform sample of all of them, kept as they are written. */
const SAMPLE = WARMUP + N + 1;
/** Coupons the admitted loop spreads over, at every count. */
const COUPONS = 24;
const CHUNK = 10_000;
const log = (line: string) => console.error(`[users] ${line}`);
const work = mkdtempSync(join(tmpdir(), 'fcfs-users-'));

const machine = machineInfo();
loadgen(log);
log(
  `${machine.cpuModel} × ${machine.cpus}, Node ${machine.node}, commit ${machine.commit}; ${N} requests after ${WARMUP} warm-up, ${C} connections`,
);
if (!(await freePort(API_PORT))) throw new Error(`port ${API_PORT} is taken`);

const database = await scratchDatabase(testEnv().DATABASE_URL!, 'coupons_users');
const env = testEnv({
  PORT: String(API_PORT),
  DATABASE_URL: database.url,
  REDIS_URL: 'redis://127.0.0.1:6379/8',
  START_CONSUMER: 'true',
  CONSUMER_METRICS_PORT: '0',
  LOG_LEVEL: 'info',
  MAX_IN_FLIGHT: '0',
  MAX_EVENT_LOOP_DELAY_MS: '0',
});
productionSettings(env, ['USER_PRELOAD_MAX', 'USER_CACHE_MAX']);
const config = testConfig(env);
const base = `http://127.0.0.1:${API_PORT}`;
const redis = createRedis({ url: config.redisUrl, clusterNodes: [], name: 'bench-users', logger: pino({ level: 'warn' }) });
await connectRedis(redis);
await redis.call('flushdb', 'async');
await createTestTopics(config);
// The schema, and a first coupon (seed migrates first).
await seed(env, 0, 1, join(work, 'schema.json'));
const orm = await openOrm({ databaseUrl: config.databaseUrl, poolMax: 3 });
const sql = orm.em.getConnection();

const sample: string[] = [];
let written = 0;
/** Users written in bulk with ids of their own (a scratch database no one else writes to). */
async function grow(to: number): Promise<void> {
  const started = performance.now();
  const chunk = async (from: number, n: number) => {
    const rows: (string | number | Date)[] = [];
    const directory: (string | number)[] = [];
    const now = new Date();
    for (let i = 0; i < n; i++) {
      const id = from + i + 1;
      const publicId = randomUUID();
      rows.push(id, publicId, `user-${id}`, now);
      directory.push(publicId, id);
      // Reservoir sampling: every user written so far equally likely to be in the sample.
      const seen = from + i;
      if (seen < SAMPLE) sample.push(publicId);
      else {
        const j = Math.floor(Math.random() * (seen + 1));
        if (j < SAMPLE) sample[j] = publicId;
      }
    }
    await sql.execute(`insert into users (id, public_id, name, created_at) values ${Array(n).fill('(?, ?, ?, ?)').join(', ')}`, rows);
    await redis.hset(USERS_BY_PUBLIC_ID, ...directory);
  };
  while (written < to) {
    // Two chunks at a time: the database takes them in parallel while this process builds the next.
    const a = Math.min(CHUNK, to - written);
    const b = Math.min(CHUNK, to - written - a);
    await Promise.all([chunk(written, a), b > 0 ? chunk(written + a, b) : Promise.resolve()]);
    written += a + b;
    if (written % 500_000 < 2 * CHUNK) process.stderr.write(`\r[users] ${written.toLocaleString('en-US')} users`);
  }
  process.stderr.write('\n');
  log(`${to.toLocaleString('en-US')} users in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** A Redis INFO field, as a number. */
async function redisInfo(section: string, field: string): Promise<number> {
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(await redis.info(section))?.[1]);
}

/**
 * Rewrites the append-only file once the users are in, and waits for it, as on a system whose
 * users registered long before the event: otherwise the bulk write's growth sets off a rewrite of
 * the whole dataset, seconds of a core at ten million users, in the middle of the loops.
 */
async function settleAof(): Promise<void> {
  const started = performance.now();
  const rewriteDone = async () =>
    (await redisInfo('persistence', 'aof_rewrite_in_progress')) === 0 && (await redisInfo('persistence', 'aof_rewrite_scheduled')) === 0;
  // One the growth set off may be under way, with part of the users: let it finish, then rewrite.
  await eventually('an AOF rewrite under way to finish', rewriteDone, 600_000, 500);
  await redis.call('bgrewriteaof');
  await eventually('the AOF rewrite to finish', rewriteDone, 600_000, 500);
  log(`AOF rewritten in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

function rssMiB(pid: number): number | null {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return Number.isFinite(kb) ? round(kb / 1024, 1) : null;
  } catch {
    return null;
  }
}

async function gauge(base: string, name: string): Promise<number | null> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * Until the machine is quiet (three 2-second samples under a quarter busy, at most 5 minutes):
 * after millions of rows the database flushes its pages for minutes, on the cores the API shares.
 */
async function quiet(): Promise<void> {
  const until = Date.now() + 300_000;
  let calm = 0;
  let busy = 1;
  while (calm < 3 && Date.now() < until) {
    busy = await busyShare();
    calm = busy < 0.25 ? calm + 1 : 0;
  }
  log(`machine ${Math.round(busy * 100)} % busy before the loops${calm < 3 ? ' (never quiet for 6 s in 5 minutes)' : ''}`);
}

interface Path {
  rps: number;
  cpuUsPerReq: number | null;
  generatorCpuPct: number;
  outcomes: Record<string, number>;
}

async function loop(label: string, base: string, paths: string[], pid: number): Promise<Path> {
  const m = await warmThenMeasure(label, base, paths, { warmup: WARMUP, requests: N, conns: C }, pid, GEN_CPU);
  return {
    rps: m.rps,
    cpuUsPerReq: m.serverCpuUsPerReq === null ? null : Math.round(m.serverCpuUsPerReq),
    generatorCpuPct: Math.round(m.generatorCores * 100),
    outcomes: tally(m.answers),
  };
}

interface Level {
  users: number;
  admitted: Path;
  soldOut: Path;
  apiRssMiB: number | null;
  directoryEntries: number | null;
  redisUsedMiB: number;
  /** Times Redis forked (a snapshot or an AOF rewrite, each writing the whole dataset) during the loops. */
  redisForks: number;
}

const levels: Level[] = [];
try {
  for (const count of COUNTS) {
    await grow(count);
    await settleAof();
    const draw = [...sample].sort(() => Math.random() - 0.5);
    const api = spawnNode(['--disable-warning=TimeoutNegativeWarning', 'src/cli/start.ts'], env);
    try {
      await apiReady(api, base);
      // Until every shard worker has preloaded what it will (their log lines), so the loops measure the steady state.
      const shards = config.shards;
      await eventually(
        'the user directories to be preloaded',
        async () => (api.output().match(/user directory preloaded/g) ?? []).length >= shards,
        600_000,
        500,
      );
      // Every (user, coupon) pair once: request i is user i / COUPONS of the draw on coupon i mod COUPONS,
      // so even a thousand users make the loop's distinct requests, the same way at every count.
      const coupons = await Promise.all(
        Array.from({ length: COUPONS }, (_, i) => createCoupon(base, env.ADMIN_TOKEN!, `users ${count} #${i}`, WARMUP + N)),
      );
      const admittedPaths = Array.from(
        { length: WARMUP + N },
        (_, i) => `/api/coupons/${coupons[i % COUPONS]}/issue-fcfs/${draw[Math.floor(i / COUPONS) % draw.length]}`,
      );
      const soldOutCoupon = await createCoupon(base, env.ADMIN_TOKEN!, `users ${count} sold out`, 1);
      const first = await fetch(`${base}/api/coupons/${soldOutCoupon}/issue-fcfs/${draw[0]}`, { method: 'POST' });
      if (first.status !== 202) throw new Error(`the sold-out coupon's one unit was not admitted: ${first.status}`);
      await quiet();
      const soldOutPaths = Array.from(
        { length: WARMUP + N },
        (_, i) => `/api/coupons/${soldOutCoupon}/issue-fcfs/${draw[1 + (i % (draw.length - 1))]}`,
      );
      const forksBefore = await redisInfo('stats', 'total_forks');
      const admitted = await loop(`admitted-${count}`, base, admittedPaths, api.child.pid!);
      const soldOut = await loop(`sold-out-${count}`, base, soldOutPaths, api.child.pid!);
      const redisForks = (await redisInfo('stats', 'total_forks')) - forksBefore;
      const info = await redis.info('memory');
      const level: Level = {
        users: count,
        admitted,
        soldOut,
        apiRssMiB: rssMiB(api.child.pid!),
        directoryEntries: await gauge(base, 'user_directory_entries'),
        redisUsedMiB: round(Number(/used_memory:(\d+)/.exec(info)?.[1]) / 1024 / 1024, 1),
        redisForks,
      };
      levels.push(level);
      log(
        `${count.toLocaleString('en-US')} users: admitted ${admitted.rps} req/s, ${admitted.cpuUsPerReq} µs CPU (gen ${admitted.generatorCpuPct} %) ${JSON.stringify(admitted.outcomes)}; sold out ${soldOut.rps} req/s, ${soldOut.cpuUsPerReq} µs (gen ${soldOut.generatorCpuPct} %) ${JSON.stringify(soldOut.outcomes)}; API RSS ${level.apiRssMiB} MiB, ${level.directoryEntries} users in memory; Redis ${level.redisUsedMiB} MiB, forked ${level.redisForks} times during the loops`,
      );
    } finally {
      await api.stop();
    }
  }
} catch (err) {
  await cleanUp();
  throw err;
}

/** The scratch database and Redis db go; ten million users take Redis a while to forget, in the background. */
async function cleanUp(): Promise<void> {
  await redis.call('flushdb', 'async').catch((err: unknown) => log(`flushing Redis db 8 failed: ${(err as Error).message}`));
  redis.disconnect();
  await orm.close();
  await database.drop().catch((err: unknown) => log(`dropping the scratch database failed: ${(err as Error).message}`));
}

const pad = (s: string | number | null, n: number) => String(s ?? '-').padStart(n);
console.log(
  [
    `${'users'.padStart(12)}${pad('admitted/s', 12)}${pad('µs CPU', 9)}${pad('sold out/s', 12)}${pad('µs CPU', 9)}${pad('API RSS MiB', 13)}${pad('in memory', 11)}${pad('Redis MiB', 11)}${pad('Redis forks', 13)}`,
    ...levels.map(
      (l) =>
        `${pad(l.users.toLocaleString('en-US'), 12)}${pad(l.admitted.rps, 12)}${pad(l.admitted.cpuUsPerReq, 9)}${pad(l.soldOut.rps, 12)}${pad(l.soldOut.cpuUsPerReq, 9)}${pad(l.apiRssMiB, 13)}${pad(l.directoryEntries, 11)}${pad(l.redisUsedMiB, 11)}${pad(l.redisForks, 13)}`,
    ),
    `API: one process, ${config.shards} shard workers, USER_PRELOAD_MAX ${env.USER_PRELOAD_MAX ?? 'default'}, USER_CACHE_MAX ${env.USER_CACHE_MAX ?? 'default'}; requests from users drawn at random from all of them.`,
  ].join('\n'),
);
const history = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as { runs: unknown[] }) : { runs: [] };
history.runs.push({
  bench: 'users',
  at: new Date().toISOString(),
  machine,
  settings: { requests: N, warmup: WARMUP, connections: C, shards: config.shards },
  levels,
});
mkdirSync(new URL('./', import.meta.url).pathname, { recursive: true });
writeFileSync(RESULTS, `${JSON.stringify(history, null, 2)}\n`);
log(`appended to ${RESULTS}`);
await cleanUp();
process.exit(0);
