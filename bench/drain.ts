/**
 * `npm run bench:drain [-- --events 100000]`
 *
 * The consumer's ceiling: a backlog of admissions waiting in Kafka (the consumer was down through
 * a sell-out), and how fast one consumer writes it to the database once it starts. The admissions
 * are real: users seeded, the admission script run for each (so every event is pending in Redis
 * and the consumer's claim accepts it), the events sent through the app's producer to one coupon,
 * hence one partition, as a sell-out of one coupon is. Then `src/cli/consumer.ts` starts and the
 * coupon's issued count is read every 50 ms. Printed: time to join the group and see the first row, time from
 * the first row to the last, rows/s. Appended to bench/results.json.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { IssueEventProducer } from '../src/issuance/producer.ts';
import { openOrm } from '../src/store/database/orm.ts';
import { encodeEvent, eventKey, newIssueEvent } from '../src/store/issue-event.ts';
import { createKafka } from '../src/store/kafka.ts';
import { USERS_BY_PUBLIC_ID } from '../src/store/keys.ts';
import { connectRedis, createRedis } from '../src/store/redis.ts';
import { AdmissionScripts, AdmitCode } from '../src/store/scripts.ts';
import { machineInfo, readSeedFile } from '../tools/loadtest/runner.ts';
import { round } from '../tools/loadtest/stats.ts';
import { testConfig } from '../tools/harness/env.ts';
import { createTestTopics } from '../tools/harness/services.ts';
import { isolatedEnv, seed, spawnNode } from './harness.ts';

const RESULTS = new URL('./results.json', import.meta.url).pathname;
const { values } = parseArgs({ options: { events: { type: 'string', default: '100000' } }, strict: true });
const EVENTS = Number(values.events);
const BATCH = 500;
const log = (line: string) => console.error(`[drain] ${line}`);
const machine = machineInfo();
log(`${machine.cpuModel} × ${machine.cpus}, Node ${machine.node}, commit ${machine.commit}`);

const { env, database } = await isolatedEnv('coupons_drain', 7, { START_CONSUMER: 'false', CONSUMER_METRICS_PORT: '0' });
const config = testConfig(env);
const logger = pino({ level: 'warn' });
const redis = createRedis({ url: config.redisUrl, clusterNodes: [], name: 'bench-drain', logger });
await connectRedis(redis);
await createTestTopics(config);
const orm = await openOrm({ databaseUrl: config.databaseUrl, poolMax: 2 });
const producer = new IssueEventProducer({
  kafka: createKafka({ brokers: config.kafka.brokers, clientId: 'bench-drain', logger }),
  topic: config.kafka.topic,
});

try {
  const usersFile = join(mkdtempSync(join(tmpdir(), 'fcfs-drain-')), 'users.json');
  log(`seeding ${EVENTS} users and a coupon of ${EVENTS} units`);
  await seed(env, EVENTS, EVENTS, usersFile);
  const { couponId, publicIds } = readSeedFile(usersFile);

  log(`admitting ${EVENTS} and sending them to Kafka, with no consumer running`);
  const scripts = new AdmissionScripts(redis);
  const started = performance.now();
  for (let from = 0; from < EVENTS; from += BATCH) {
    const ids = publicIds.slice(from, from + BATCH);
    const userIds = (await redis.hmget(USERS_BY_PUBLIC_ID, ...ids)).map(Number);
    const events = ids.map((publicId, i) => newIssueEvent(couponId, userIds[i]!, publicId));
    const requests = events.map((e) => ({ userId: e.userId, eventId: e.eventId, eventJson: encodeEvent(e) }));
    const { codes } = await scripts.admit(couponId, requests);
    if (codes.some((c) => c !== AdmitCode.ACCEPTED)) throw new Error(`admission refused: ${codes.filter((c) => c !== AdmitCode.ACCEPTED)}`);
    await Promise.all(requests.map((r) => producer.publish(eventKey(couponId), r.eventJson)));
  }
  log(`backlog of ${EVENTS} in Kafka after ${((performance.now() - started) / 1000).toFixed(1)} s`);

  // The coupon's issued count, which the consumer raises in the transaction that inserts the rows:
  // exact, and a key lookup, where counting the rows every 50 ms took the database a share of a
  // core from the consumer it measures.
  const rows = async () => {
    const [r] = (await orm.em.getConnection().execute('select issued_count as n from coupons where id = ?', [couponId])) as {
      n: number;
    }[];
    return Number(r!.n);
  };
  const spawned = performance.now();
  const consumer = spawnNode(['--disable-warning=TimeoutNegativeWarning', 'src/cli/consumer.ts'], env);
  let firstRowAt = 0;
  const samples: { at: number; n: number }[] = [];
  try {
    for (;;) {
      const n = await rows();
      const now = performance.now();
      if (n > 0 && firstRowAt === 0) firstRowAt = now;
      samples.push({ at: now, n });
      if (n >= EVENTS) break;
      if (now - spawned > 300_000) throw new Error(`only ${n} of ${EVENTS} rows after 300 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await consumer.stop();
  }
  const doneAt = performance.now();
  // The most rows written in any second of the drain (between two samples at least 1 s apart).
  let bestSecond = 0;
  for (const [i, a] of samples.entries()) {
    const b = samples.slice(i).find((s) => s.at - a.at >= 1_000);
    if (b) bestSecond = Math.max(bestSecond, Math.round(((b.n - a.n) * 1000) / (b.at - a.at)));
  }
  const drainSeconds = (doneAt - firstRowAt) / 1000;
  const row = {
    events: EVENTS,
    startToFirstRowSeconds: round((firstRowAt - spawned) / 1000),
    drainSeconds: round(drainSeconds),
    rowsPerSecond: Math.round(EVENTS / drainSeconds),
    bestSecondRows: bestSecond,
  };
  console.log(
    [
      '',
      `drain: a backlog of ${EVENTS} admissions of one coupon (one partition), one consumer started on it`,
      '| events | start to first row (s) | first to last row (s) | rows/s | best second (rows) |',
      '| --- | --- | --- | --- | --- |',
      `| ${row.events} | ${row.startToFirstRowSeconds} | ${row.drainSeconds} | ${row.rowsPerSecond} | ${row.bestSecondRows} |`,
    ].join('\n'),
  );
  const results = JSON.parse(readFileSync(RESULTS, 'utf8')) as { runs: unknown[] };
  results.runs.push({ bench: 'drain', at: new Date().toISOString(), machine, ...row });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  log('appended to bench/results.json; `npm run bench:report` renders docs/benchmarks.md');
} finally {
  await producer.disconnect().catch(() => undefined);
  redis.disconnect();
  await orm.close();
  await database.drop();
}
