/**
 * `npm run bench:capacity [-- --seconds 5]`
 *
 * What one unit of each engine carries on this machine, for the capacity table of docs/scaling.md:
 *
 * - **one coupon on one Redis** (a hot coupon: all its admissions run on the one master that owns
 *   its hash tag's slot): admissions/s of the admission script called as shard workers call it
 *   (batches of fresh users, several callers at once), and the Redis server's CPU over the run
 *   (INFO CPU), so admissions per Redis core-second. The local Redis, AOF `appendfsync always`.
 * - **one Kafka partition**: issue events/s that the app's producer (idempotent, acks=all, group
 *   commit) gets acknowledged into one key, with many publishers at once. The local broker. With
 *   them, the events each produce request carried (the more publishers, the larger the group
 *   commit) and the producer's CPU per event (this process's, in which the producer is all that
 *   runs then): what a shard worker pays Kafka for an admission, by batch size.
 *
 * What one API core carries is bench:spike's (202/s of one process); the report puts them side by
 * side. Appended to bench/results.json.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { IssueEventProducer } from '../src/issuance/producer.ts';
import { encodeEvent, eventKey, newIssueEvent } from '../src/store/issue-event.ts';
import { createKafka } from '../src/store/kafka.ts';
import { connectRedis, createRedis, type Redis } from '../src/store/redis.ts';
import { AdmissionScripts, AdmitCode, type AdmitRequest } from '../src/store/scripts.ts';
import { machineInfo } from '../tools/loadtest/runner.ts';
import { round } from '../tools/loadtest/stats.ts';
import { testConfig, testEnv } from '../tools/harness/env.ts';

const RESULTS = new URL('./results.json', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    batches: { type: 'string', default: '1,64,512' },
    callers: { type: 'string', default: '8' },
    publishers: { type: 'string', default: '8,64,1024' },
  },
  strict: true,
});
const SECONDS = Number(values.seconds);
const BATCHES = values.batches!.split(',').map(Number);
const CALLERS = Number(values.callers);
const PUBLISHERS = values.publishers!.split(',').map(Number);
/** A Redis database of its own, flushed first: the bench's coupons never meet the app's. */
const REDIS_DB = 6;
const log = (line: string) => console.error(`[capacity] ${line}`);
const machine = machineInfo();
log(`${machine.cpuModel} × ${machine.cpus}, Node ${machine.node}, commit ${machine.commit}`);

interface RedisRow {
  batch: number;
  callers: number;
  admissionsPerSecond: number;
  scriptCallsPerSecond: number;
  /** Redis server CPU over the run, in cores. */
  redisCores: number;
  admissionsPerRedisCoreSecond: number;
}

interface KafkaRow {
  publishers: number;
  eventsPerSecond: number;
  eventBytes: number;
  eventsPerSend: number;
  /** This process's CPU (the producer's, all that runs then) per acknowledged event. */
  producerCpuUsPerEvent: number;
}

/** The Redis server's CPU seconds so far (user + system, all its threads). */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

async function hotCoupon(redis: Redis, batch: number, couponId: number): Promise<RedisRow> {
  const scripts = new AdmissionScripts(redis);
  await scripts.initCoupon(couponId, { total: 1_000_000_000, startsAtMs: 0, endsAtMs: 0, name: 'hot coupon' });
  let nextUser = 1;
  const requests = (): AdmitRequest[] =>
    Array.from({ length: batch }, () => {
      const event = newIssueEvent(couponId, nextUser++, randomUUID());
      return { userId: event.userId, eventId: event.eventId, eventJson: encodeEvent(event) };
    });
  let admitted = 0;
  let calls = 0;
  const cpuBefore = await redisCpuSeconds(redis);
  const started = performance.now();
  const until = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < until) {
        const result = await scripts.admit(couponId, requests());
        calls++;
        admitted += result.codes.filter((c) => c === AdmitCode.ACCEPTED).length;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const redisCores = ((await redisCpuSeconds(redis)) - cpuBefore) / seconds;
  return {
    batch,
    callers: CALLERS,
    admissionsPerSecond: Math.round(admitted / seconds),
    scriptCallsPerSecond: Math.round(calls / seconds),
    redisCores: round(redisCores, 2),
    admissionsPerRedisCoreSecond: Math.round(admitted / seconds / Math.max(redisCores, 0.01)),
  };
}

/** Produce requests the producer has made (its observer counts them). */
let sends = 0;

async function onePartition(producer: IssueEventProducer, publishers: number): Promise<KafkaRow> {
  const key = eventKey(1);
  const value = encodeEvent(newIssueEvent(1, 1, randomUUID()));
  let acknowledged = 0;
  sends = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const until = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: publishers }, async () => {
      while (performance.now() < until) {
        await producer.publish(key, value);
        acknowledged++;
      }
    }),
  );
  const { user, system } = process.cpuUsage(cpu);
  return {
    publishers,
    eventsPerSecond: Math.round(acknowledged / ((performance.now() - started) / 1000)),
    eventBytes: Buffer.byteLength(value),
    eventsPerSend: Math.round(acknowledged / Math.max(1, sends)),
    producerCpuUsPerEvent: round((user + system) / acknowledged, 1),
  };
}

const env = testEnv({ REDIS_URL: `redis://127.0.0.1:6379/${REDIS_DB}`, KAFKA_PARTITIONS: '1' });
const config = testConfig(env);
const logger = pino({ level: 'warn' });

const redis = createRedis({ url: config.redisUrl, clusterNodes: [], name: 'bench-capacity', logger });
const redisRows: RedisRow[] = [];
try {
  await connectRedis(redis);
  await redis.flushdb();
  for (const [i, batch] of BATCHES.entries()) {
    const row = await hotCoupon(redis, batch, i + 1);
    log(
      `one coupon, batches of ${batch}, ${CALLERS} callers: ${row.admissionsPerSecond} admissions/s in ${row.scriptCallsPerSecond} script calls/s; Redis at ${row.redisCores} of a core`,
    );
    redisRows.push(row);
  }
  await redis.flushdb();
} finally {
  redis.disconnect();
}

const kafka = createKafka({ brokers: config.kafka.brokers, clientId: 'bench-capacity', logger });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: config.kafka.topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
const producer = new IssueEventProducer({ kafka, topic: config.kafka.topic, observer: { sent: () => void sends++ } });
const kafkaRows: KafkaRow[] = [];
try {
  await producer.connect();
  await onePartition(producer, 64);
  for (const publishers of PUBLISHERS) {
    const row = await onePartition(producer, publishers);
    log(
      `one partition, ${publishers} publishers: ${row.eventsPerSecond} events/s acknowledged (${row.eventBytes} bytes each), ${row.eventsPerSend} a send, ${row.producerCpuUsPerEvent} µs of producer CPU each`,
    );
    kafkaRows.push(row);
  }
} finally {
  await producer.disconnect();
  await admin.deleteTopics({ topics: [config.kafka.topic] }).catch(() => undefined);
  await admin.disconnect();
}

console.log(
  [
    '',
    `capacity: ${SECONDS} s a row`,
    '| one coupon on one Redis | admissions/s | script calls/s | Redis (cores) | admissions per Redis core-second |',
    '| --- | --- | --- | --- | --- |',
    ...redisRows.map(
      (r) =>
        `| batches of ${r.batch}, ${r.callers} callers | ${r.admissionsPerSecond} | ${r.scriptCallsPerSecond} | ${r.redisCores} | ${r.admissionsPerRedisCoreSecond} |`,
    ),
    '',
    '| one Kafka partition | events/s acknowledged | events a send | producer CPU µs an event |',
    '| --- | --- | --- | --- |',
    ...kafkaRows.map((r) => `| ${r.publishers} publishers | ${r.eventsPerSecond} | ${r.eventsPerSend} | ${r.producerCpuUsPerEvent} |`),
  ].join('\n'),
);
const results = JSON.parse(readFileSync(RESULTS, 'utf8')) as { runs: unknown[] };
results.runs.push({ bench: 'capacity', at: new Date().toISOString(), machine, seconds: SECONDS, redis: redisRows, kafka: kafkaRows });
writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
log('appended to bench/results.json; `npm run bench:report` renders docs/benchmarks.md');
