/**
 * What the benchmarks share: child Node processes on spare ports, seeding through the real CLI, and
 * the CPU time of processes and of the machine read from /proc.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { openOrm } from '../src/store/database/orm.ts';
import { testEnv } from '../tools/harness/env.ts';
import { eventually, watch, type Proc } from '../tools/harness/processes.ts';

const ROOT = new URL('../', import.meta.url).pathname;

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || '100');

/**
 * A /proc stat file's command name, its utime + stime and its waited-for children's cutime +
 * cstime, in ms (throws if it is gone). After the command: utime is field 14 (man 5 proc).
 */
function readStat(path: string): { name: string; ms: number; childrenMs: number } {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS,
    childrenMs: (Number(fields[13]) + Number(fields[14])) * TICK_MS,
  };
}

/** CPU ms of this process's waited-for children: what a child that has exited used. */
export function childrenCpuMs(): number {
  return readStat('/proc/self/stat').childrenMs;
}

/** utime + stime of a process and all its threads, in ms (from /proc; null elsewhere). */
export function processCpuMs(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    return readStat(`/proc/${pid}/stat`).ms;
  } catch {
    return null;
  }
}

/** CPU ms of each thread of a process, by thread id, with its name (from /proc; empty elsewhere). */
export function threadCpuMs(pid: number | undefined): Map<string, { name: string; ms: number }> {
  const out = new Map<string, { name: string; ms: number }>();
  if (!pid) return out;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        out.set(tid, readStat(`/proc/${pid}/task/${tid}/stat`));
      } catch {
        // The thread ended between the listing and the read.
      }
    }
  } catch {
    // Not Linux, or the process is gone.
  }
  return out;
}

/** Where a process's CPU went between two threadCpuMs readings: ms per thread name, busiest first. */
export function threadCpuDelta(
  before: Map<string, { name: string; ms: number }>,
  after: Map<string, { name: string; ms: number }>,
): [string, number][] {
  const byName = new Map<string, number>();
  for (const [tid, t] of after) {
    const d = t.ms - (before.get(tid)?.ms ?? 0);
    if (d > 0) byName.set(t.name, (byName.get(t.name) ?? 0) + d);
  }
  return [...byName].sort((a, b) => b[1] - a[1]);
}

/**
 * A database of the benchmark's own beside the test database (same server, same grants), created
 * empty: hundreds of thousands of seeded users per run would otherwise pile up in coupons_test and
 * slow every later test and run. `drop()` removes it.
 */
export async function scratchDatabase(testUrl: string, name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const orm = await openOrm({ databaseUrl: testUrl, poolMax: 1 });
  const sql = orm.em.getConnection();
  await sql.execute(`drop database if exists \`${name}\``);
  await sql.execute(`create database \`${name}\``);
  const url = new URL(testUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      await sql.execute(`drop database if exists \`${name}\``);
      await orm.close();
    },
  };
}

/**
 * The environment of an API a benchmark measures on data of its own: a scratch database (above)
 * and a Redis db, both emptied first. In the tests' ones, a million users left by earlier runs
 * meant the shard workers' preload (USER_PRELOAD_MAX) held a fifth of a run's users, so a figure
 * depended on the machine's history (what a large user base costs is bench:users' to measure).
 */
export async function isolatedEnv(
  databaseName: string,
  redisDb: number,
  overrides: Record<string, string>,
): Promise<{ env: Record<string, string>; database: Awaited<ReturnType<typeof scratchDatabase>> }> {
  const database = await scratchDatabase(testEnv().DATABASE_URL!, databaseName);
  execFileSync('redis-cli', ['-n', String(redisDb), 'flushdb'], { stdio: 'ignore' });
  return { database, env: testEnv({ ...overrides, DATABASE_URL: database.url, REDIS_URL: `redis://127.0.0.1:6379/${redisDb}` }) };
}

/** The overload settings the tests set for themselves and the overload benchmarks measure as shipped. */
export const OVERLOAD_SETTINGS = [
  'MAX_IN_FLIGHT',
  'IN_FLIGHT_TARGET_MS',
  'LOOP_DELAY_TARGET_MS',
  'MAX_QUEUE_WAIT_MS',
  'MAX_EVENT_LOOP_DELAY_MS',
];

/**
 * Puts back, for `keys`, what this process's environment says (or nothing, so the API's default
 * applies) where the tests' environment sets its own: a benchmark measures the production settings,
 * or the ones its caller exported.
 */
export function productionSettings(env: Record<string, string>, keys: readonly string[]): void {
  for (const key of keys) {
    if (process.env[key] === undefined) delete env[key];
    else env[key] = process.env[key]!;
  }
}

export function freePort(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A Node child process; `cpus` (a taskset list such as "1") confines it and its threads to those cores. */
export function spawnNode(args: string[], env: Record<string, string>, cpus?: string): Proc {
  // taskset execs the command, so the child's pid is Node's own.
  const [command, argv] = cpus ? ['taskset', ['-c', cpus, process.execPath, ...args]] : [process.execPath, args];
  return watch(spawn(command, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

export async function ready(what: string, proc: Proc, url: string): Promise<void> {
  await eventually(
    what,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`exited: ${proc.output().slice(-2000)}`);
      return (await fetch(url)).status < 500;
    },
    90_000,
    200,
  );
}

/** Until the API at `base` says it is ready (200), as a load balancer would wait: up is not enough. */
export async function apiReady(proc: Proc, base: string): Promise<void> {
  await ready('the API', proc, `${base}/health/ready`);
  await eventually('the API to be ready', async () => (await fetch(`${base}/health/ready`)).status === 200, 90_000);
}

export async function seed(env: Record<string, string>, users: number, stock: number, file: string): Promise<void> {
  // As `npm run up` does: the schema first (processes no longer create it), then the data.
  const m = spawnNode(['--disable-warning=TimeoutNegativeWarning', 'src/cli/migrate.ts'], env);
  const [migrated] = (await once(m.child, 'exit')) as [number | null];
  if (migrated !== 0) throw new Error(`migrate failed: ${m.output().slice(-2000)}`);
  const p = spawnNode(
    ['--disable-warning=TimeoutNegativeWarning', 'src/cli/seed.ts', '--users', String(users), '--stock', String(stock), '--out', file],
    env,
  );
  const [code] = (await once(p.child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`seed failed: ${p.output().slice(-2000)}`);
}

/**
 * A coupon made through the API's admin route, as an operator makes one; its id. Right after a
 * flood the API may still be working off its backlog and answer 503: it is asked again when it says.
 */
export async function createCoupon(base: string, adminToken: string, name: string, totalQuantity: number): Promise<number> {
  const create = () =>
    fetch(`${base}/api/coupons`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, totalQuantity }),
    });
  let res = await create();
  for (let tries = 0; res.status === 503 && tries < 30; tries++) {
    await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? 1) * 1000));
    res = await create();
  }
  if (res.status !== 201) throw new Error(`creating a coupon: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: number }).id;
}

/** Every core's time by state (/proc/stat's first line), in ticks: two readings give busyBetween. */
export function cpuTicks(): number[] {
  return readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
}

/** Share of the machine's cores busy between two cpuTicks readings (idle and iowait count as free). */
export function busyBetween(a: readonly number[], b: readonly number[]): number {
  const d = b.map((v, i) => v - (a[i] ?? 0));
  const total = d.reduce((x, y) => x + y, 0);
  const idle = (d[3] ?? 0) + (d[4] ?? 0);
  return total > 0 ? 1 - idle / total : 0;
}

/** The machine's busy CPU share over `ms` (from /proc/stat), 0..1. */
export async function busyShare(ms = 2_000): Promise<number> {
  const a = cpuTicks();
  await new Promise((r) => setTimeout(r, ms));
  return busyBetween(a, cpuTicks());
}

/** Confines this process (every thread) to the given cores, e.g. "0". */
export function pinSelf(cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}
