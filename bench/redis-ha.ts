/**
 * `npm run bench:redis-ha [-- --seconds 8] [--clients 64,500]`
 *
 * What keeping "a 202 is a row" through a Redis failover costs when nothing fails, in one run on
 * this machine: the same API on the single Redis, on a Redis Cluster (3 masters, a replica each,
 * started here by infra/redis-cluster.sh on ports of its own), and on that cluster with every
 * admission batch acknowledged by a replica before its 202 (REDIS_WAIT_REPLICAS=1, the cluster's
 * default; docs/failover.md). Closed loops of --clients, each request a new (user, coupon) pair, so
 * every one is admitted. The API on the last core, the generator (bench/loadgen) on the first, its
 * CPU printed; Redis, Kafka, MariaDB and the consumer float. Appended to bench/results.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { awaitReconciliation } from '../tools/loadtest/reconciliation.ts';
import { machineInfo, readSeedFile } from '../tools/loadtest/runner.ts';
import { round, sortedCopy } from '../tools/loadtest/stats.ts';
import { testConfig, testEnv } from '../tools/harness/env.ts';
import type { Proc } from '../tools/harness/processes.ts';
import { createTestTopics } from '../tools/harness/services.ts';
import { apiReady, freePort, scratchDatabase, seed, spawnNode } from './harness.ts';
import { attack, loadgen, pct, tally } from './load.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const RESULTS = new URL('./results.json', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    clients: { type: 'string', default: '64,500' },
    users: { type: 'string', default: '20000' },
  },
  strict: true,
});
const SECONDS = Number(values.seconds);
const CLIENTS = values.clients!.split(',').map(Number);
const USERS = Number(values.users);
const GEN_CPU = '0';
const API_CPU = String(availableParallelism() - 1);
const API_PORT = 18_120;
const CLUSTER_PORTS = [7121, 7122, 7123, 7124, 7125, 7126];
const CLUSTER_DATA = join(ROOT, '.data', 'bench-redis-ha');
const GENERATOR_BOUND = 0.7;
/** The fastest a closed loop could go here (req/s): each row gets coupons for that many fresh pairs. */
const MAX_RATE = 25_000;
const log = (line: string) => console.error(`[redis-ha] ${line}`);

if (availableParallelism() < 2) throw new Error('needs 2 cores: one for the generator, one for the API');
const machine = machineInfo();
log(`${machine.cpuModel} × ${machine.cpus}, Node ${machine.node}, commit ${machine.commit}`);
loadgen(log);
if (!(await freePort(API_PORT))) throw new Error(`port ${API_PORT} is taken`);

const clusterScript = (action: string) =>
  execFileSync('bash', [join(ROOT, 'infra', 'redis-cluster.sh'), action], {
    env: { ...process.env, FCFS_DATA_DIR: CLUSTER_DATA, REDIS_CLUSTER_PORTS: CLUSTER_PORTS.join(' ') },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
clusterScript('stop');
rmSync(join(CLUSTER_DATA, 'redis-cluster'), { recursive: true, force: true });
log(`starting a Redis Cluster on ${CLUSTER_PORTS.join(', ')}`);
clusterScript('start');

const database = await scratchDatabase(testEnv().DATABASE_URL!, 'coupons_redis_ha');
const common = {
  PORT: String(API_PORT),
  START_CONSUMER: 'false',
  CONSUMER_METRICS_PORT: '0',
  DATABASE_URL: database.url,
  MAX_IN_FLIGHT: '0',
};
const cluster = { REDIS_CLUSTER_NODES: `127.0.0.1:${CLUSTER_PORTS[0]},127.0.0.1:${CLUSTER_PORTS[1]}` };
const SETTINGS = [
  { name: 'single Redis', env: testEnv({ ...common, REDIS_URL: 'redis://127.0.0.1:6379/4' }) },
  { name: 'cluster, no WAIT', env: testEnv({ ...common, ...cluster, REDIS_WAIT_REPLICAS: '0' }) },
  { name: 'cluster, WAIT 1', env: testEnv({ ...common, ...cluster, REDIS_WAIT_REPLICAS: '1' }) },
];
// Each setting its own topic and consumer: a consumer claims its events in the Redis they were admitted in.
for (const s of SETTINGS) await createTestTopics(testConfig(s.env));
// The scratch database numbers coupons from 1 again: the single Redis must forget earlier runs' coupons.
execFileSync('redis-cli', ['-n', '4', 'flushdb'], { stdio: 'ignore' });

interface Row {
  settings: string;
  clients: number;
  seconds: number;
  accepted: number;
  acceptedPerSecond: number;
  other: Record<string, number>;
  p50: number | string;
  p99: number | string;
  generatorCores: number;
}

const rows: Row[] = [];
const consumers: Proc[] = [];
let api: Proc | undefined;
const base = `http://127.0.0.1:${API_PORT}`;
try {
  for (const { name, env } of SETTINGS) {
    const usersFile = join(mkdtempSync(join(tmpdir(), 'fcfs-redis-ha-')), 'users.json');
    log(`${name}: seeding ${USERS} users`);
    await seed(env, USERS, 1, usersFile);
    const { publicIds } = readSeedFile(usersFile);
    consumers.push(spawnNode(['--disable-warning=TimeoutNegativeWarning', 'src/cli/consumer.ts'], env));
    api = spawnNode(['--disable-warning=TimeoutNegativeWarning', 'src/cli/start.ts'], env, API_CPU);
    await apiReady(api, base);
    const admin = { authorization: `Bearer ${env.ADMIN_TOKEN}`, 'content-type': 'application/json' };
    // Enough fresh (user, coupon) pairs that no request of a row repeats one: every one is admitted.
    const fresh = async () => {
      const coupons: number[] = [];
      for (let i = 0; i < Math.ceil((MAX_RATE * SECONDS) / publicIds.length); i++) {
        const res = await fetch(`${base}/api/coupons`, {
          method: 'POST',
          headers: admin,
          body: JSON.stringify({ name, totalQuantity: 10_000_000 }),
        });
        if (res.status !== 201) throw new Error(`creating a coupon: ${res.status} ${await res.text()}`);
        coupons.push(((await res.json()) as { id: number }).id);
      }
      return { coupons, paths: publicIds.flatMap((u) => coupons.map((c) => `/api/coupons/${c}/issue-fcfs/${u}`)) };
    };
    await attack('warm-up', base, (await fresh()).paths, { rate: 0, seconds: 2, conns: 64 }, GEN_CPU);
    for (const clients of CLIENTS) {
      const { coupons, paths } = await fresh();
      const { answers, generatorCores } = await attack(
        `${name} ${clients}`,
        base,
        paths,
        { rate: 0, seconds: SECONDS, conns: clients },
        GEN_CPU,
      );
      const accepted = answers.filter((a) => a.status === 202);
      const ok = sortedCopy(accepted.map((a) => a.latencyMs));
      const row: Row = {
        settings: name,
        clients,
        seconds: SECONDS,
        accepted: accepted.length,
        acceptedPerSecond: Math.round(accepted.length / SECONDS),
        other: tally(answers.filter((a) => a.status !== 202)),
        p50: pct(ok, 50),
        p99: pct(ok, 99),
        generatorCores: round(generatorCores, 2),
      };
      log(
        `${name}, ${clients} clients: 202 ${row.acceptedPerSecond}/s, p50 ${row.p50} ms, p99 ${row.p99} ms, other ${JSON.stringify(row.other)}; generator ${row.generatorCores} of a core`,
      );
      rows.push(row);
      if (answers.length >= paths.length) throw new Error('the row ran out of fresh pairs: raise MAX_RATE');
      let persisted = 0;
      for (const id of coupons) {
        const rec = await awaitReconciliation(base, id, env.ADMIN_TOKEN!, 300_000);
        if (!rec.ok) throw new Error(`coupon ${id}: ${rec.reason}`);
        persisted += rec.report?.persisted ?? 0;
      }
      if (persisted !== accepted.length) throw new Error(`${name}, ${clients} clients: ${accepted.length} answered 202, ${persisted} rows`);
    }
    await api.stop();
    api = undefined;
  }
} finally {
  await api?.stop();
  await Promise.all(consumers.map((c) => c.stop()));
  clusterScript('stop');
  await database.drop();
}

const single = (clients: number) => rows.find((r) => r.settings === 'single Redis' && r.clients === clients)?.acceptedPerSecond ?? 0;
console.log(
  [
    '',
    `redis-ha: closed loops of ${CLIENTS.join(' and ')} clients, ${SECONDS} s a row, every request admitted; API on core ${API_CPU}, generator on core ${GEN_CPU}`,
    '| Redis | clients | 202/s | of single Redis | p50 ms | p99 ms | other | generator (cores) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.settings} | ${r.clients} | ${r.acceptedPerSecond} | ${round(r.acceptedPerSecond / Math.max(1, single(r.clients)), 2)} | ${r.p50} | ${r.p99} | ${Object.keys(r.other).length ? JSON.stringify(r.other) : 0} | ${r.generatorCores}${r.generatorCores > GENERATOR_BOUND ? ' (generator-bound?)' : ''} |`,
    ),
  ].join('\n'),
);
const results = JSON.parse(readFileSync(RESULTS, 'utf8')) as { runs: unknown[] };
results.runs.push({ bench: 'redis-ha', at: new Date().toISOString(), machine, rows });
writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
log('appended to bench/results.json; `npm run bench:report` renders docs/benchmarks.md');
