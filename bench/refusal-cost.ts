/**
 * `npm run bench:refusal [-- --rate 8000] [--seconds 6] [--conns 4000] [--rounds 2] [--no-record]`
 *
 * What a refusal costs the API against the floor, at one arrival rate: the CPU per request of the
 * bare Node server that only answers the API's 503 (bench/intake-server.ts), then of the API
 * refusing every issue request at its intake, each alone on the API's core, in turns (--rounds).
 * The API runs with a fixed cap of one request (IN_FLIGHT_TARGET_MS=0, MAX_IN_FLIGHT=1), and that
 * one place is held by an issue request whose body never comes, so nothing is admitted and every
 * request of the flood is refused before routing: the figure is the refusal's, with nothing of an
 * admission in it. The rate should be one both keep up with, so that the figures compare work,
 * not queues. Prints CPU µs per request, per thread.
 *
 * A third server refuses below HTTP (bench/intake-server.ts with REFUSE_AT=connection): every
 * arrival is a connection closed as soon as it is accepted. Refusing at the connection is what one
 * reaches for when answering 503 costs too much; this prints what it costs instead, the server's
 * CPU per arrival and the generator's, whose every request is then a new connection.
 *
 * A fourth answers the same 503 on raw sockets, below Node's HTTP machinery (REFUSE_AT=socket):
 * the least a refusal can cost a Node process, what the flood targets' arithmetic is held against
 * (docs/overload.md).
 *
 * Each server's rounds are appended to bench/results.json (`--no-record`: printed only).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { machineInfo } from '../tools/loadtest/runner.ts';
import { round } from '../tools/loadtest/stats.ts';
import { testConfig } from '../tools/harness/env.ts';
import { createTestTopics } from '../tools/harness/services.ts';
import { apiReady, freePort, isolatedEnv, processCpuMs, ready, spawnNode, threadCpuMs } from './harness.ts';
import { attack } from './load.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '8000' },
    seconds: { type: 'string', default: '6' },
    conns: { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '2' },
    'no-record': { type: 'boolean', default: false },
  },
  strict: true,
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const CONNS = Number(values.conns);
const ROUNDS = Number(values.rounds);
const API_PORT = 18_120;
const FLOOR_PORT = 18_121;
const GEN_CPU = '0';
const SERVER_CPU = String(availableParallelism() - 1);
const PATH = '/api/coupons/1/issue-fcfs/00000000-0000-4000-8000-000000000000';
const RESULTS = new URL('./results.json', import.meta.url).pathname;
const log = (line: string) => console.error(`[refusal] ${line}`);

/** One server's refusals in one round: CPU µs each, in all and per thread, and the generator's share of its core. */
interface Measured {
  cpuUs: number;
  threadsUs: Record<string, number>;
  generatorCores: number;
}

if (availableParallelism() < 2) throw new Error('needs 2 cores: one for the generator, one for the server');
for (const port of [API_PORT, FLOOR_PORT]) if (!(await freePort(port))) throw new Error(`port ${port} is taken`);
const { env, database } = await isolatedEnv('coupons_refusal', 10, {
  PORT: String(API_PORT),
  START_CONSUMER: 'false',
  CONSUMER_METRICS_PORT: '0',
  MAX_IN_FLIGHT: '1',
  IN_FLIGHT_TARGET_MS: '0',
  MAX_EVENT_LOOP_DELAY_MS: '0',
  RATE_LIMIT_PER_USER: '0',
  RATE_LIMIT_PER_IP: '0',
});
await createTestTopics(testConfig(env));

/**
 * Warms, then floods `base` at RATE; returns CPU µs per request, in all and per thread name. Every
 * request must be refused: answered 503, or, `closed` allowed, its connection closed unanswered.
 */
async function measure(name: string, pid: number, base: string, closed = false): Promise<Measured> {
  await attack(`${name}-warm-up`, base, [PATH], { rate: RATE, seconds: 3, conns: CONNS }, GEN_CPU);
  const cpu0 = processCpuMs(pid)!;
  const threads0 = threadCpuMs(pid);
  const { answers, generatorCores } = await attack(name, base, [PATH], { rate: RATE, seconds: SECONDS, conns: CONNS }, GEN_CPU);
  const cpu1 = processCpuMs(pid)!;
  const perThread = new Map<string, number>();
  for (const [tid, { name: thread, ms }] of threadCpuMs(pid))
    perThread.set(thread, (perThread.get(thread) ?? 0) + ms - (threads0.get(tid)?.ms ?? 0));
  const refused = answers.filter((a) => a.status === 503 || (closed && a.status === 0)).length;
  if (refused !== answers.length) throw new Error(`${name}: ${answers.length - refused} of ${answers.length} requests were not refused`);
  const us = (ms: number) => round((ms * 1000) / answers.length, 1);
  const busiest = [...perThread].filter(([, ms]) => ms > 0).sort(([, x], [, y]) => y - x);
  const measured = {
    cpuUs: us(cpu1 - cpu0),
    threadsUs: Object.fromEntries(busiest.map(([thread, ms]) => [thread, us(ms)])),
    generatorCores: round(generatorCores, 2),
  };
  console.log(
    `${name}: ${measured.cpuUs} µs CPU a refusal (${busiest.map(([thread, ms]) => `${thread} ${us(ms)}`).join(', ')}); generator ${measured.generatorCores} of a core`,
  );
  return measured;
}

/** Starts the floor server (bench/intake-server.ts) on the API's core with `extraEnv`, measures it, stops it. */
async function floor(name: string, extraEnv: Record<string, string>, closed = false): Promise<Measured> {
  const server = spawnNode(['bench/intake-server.ts'], { ...env, ...extraEnv, PORT: String(FLOOR_PORT) }, SERVER_CPU);
  try {
    await ready(`the ${name} server`, server, `http://127.0.0.1:${FLOOR_PORT}/`);
    return await measure(name, server.child.pid!, `http://127.0.0.1:${FLOOR_PORT}`, closed);
  } finally {
    await server.stop();
  }
}

/** Each server's rounds, in the order they ran. */
const servers = new Map<string, Measured[]>();
const add = (name: string, m: Measured) => servers.set(name, [...(servers.get(name) ?? []), m]);
try {
  log(`${RATE} requests/s over ${CONNS} connections for ${SECONDS} s, ${ROUNDS} rounds`);
  for (let r = 0; r < ROUNDS; r++) {
    add('floor: Node HTTP answering 503', await floor('floor', {}));
    add('floor: ready-made 503 bytes on raw sockets', await floor('floor on raw sockets', { REFUSE_AT: 'socket' }));
    add('floor: connections closed as accepted', await floor('floor, refusing at the connection', { REFUSE_AT: 'connection' }, true));
    const api = spawnNode(['--disable-warning=TimeoutNegativeWarning', 'src/cli/start.ts'], env, SERVER_CPU);
    let holder: Socket | undefined;
    try {
      await apiReady(api, `http://127.0.0.1:${API_PORT}`);
      // The one place, held: the headers of an issue request whose body never comes.
      holder = connect(API_PORT, '127.0.0.1');
      holder.write(`POST ${PATH} HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      add("the API's intake", await measure('API', api.child.pid!, `http://127.0.0.1:${API_PORT}`));
    } finally {
      holder?.destroy();
      await api.stop();
    }
  }
} finally {
  await database.drop();
}
if (!values['no-record']) {
  const results = JSON.parse(readFileSync(RESULTS, 'utf8')) as { runs: unknown[] };
  results.runs.push({
    bench: 'refusal',
    at: new Date().toISOString(),
    machine: machineInfo(),
    arrivalsPerSecond: RATE,
    connections: CONNS,
    seconds: SECONDS,
    servers: [...servers].map(([name, rounds]) => ({ name, rounds })),
  });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  log('recorded in bench/results.json');
}
process.exit(0);
