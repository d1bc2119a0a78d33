/**
 * A shard worker: the one thread of this process that admits requests for the coupons it owns
 * (src/shards/hash.ts). Its state is built once when the thread loads; only plain data crosses the
 * thread boundary. Piscina calls the exported task functions by name.
 */
import { workerData } from 'node:worker_threads';
import { Admitter } from '../src/admission/admitter.ts';
import { COUPON_CHANGED_CHANNEL } from '../src/store/keys.ts';
import { CouponKnowledge } from '../src/admission/knowledge.ts';
import { AdmissionScripts } from '../src/store/scripts.ts';
import { UserDirectory } from '../src/admission/user-directory.ts';
import { findUserIds } from '../src/store/database/users.ts';
import type { Config } from '../src/config.ts';
import { openOrm, type Orm } from '../src/store/database/orm.ts';
import { IssueEventProducer } from '../src/issuance/producer.ts';
import { createKafka } from '../src/store/kafka.ts';
import { createLogger } from '../src/log.ts';
import { AdmissionMetrics } from '../src/metrics/admission-metrics.ts';
import { parseCouponChange, type CouponChange } from '../src/store/coupon-change.ts';
import { createRedis, duplicateRedis } from '../src/store/redis.ts';
import { encodeOutcomes, requestsOf, type OutcomeBatch, type RequestBatch } from '../src/shards/wire.ts';

const { shard, config } = workerData as { shard: number; config: Config };
const logger = createLogger(config.logLevel, 'shard', config.env).child({ shard });
const metrics = new AdmissionMetrics(shard, config.kafka.topic);
const redis = createRedis({ url: config.redisUrl, clusterNodes: config.redisClusterNodes, name: `shard-${shard}`, logger });
const knowledge = new CouponKnowledge({ soldOutTtlMs: config.soldOutTtlMs });

// The database is only the fallback for user lookups: opened on first need, kept small.
let orm: Promise<Orm> | undefined;
const database = () =>
  (orm ??= openOrm({ databaseUrl: config.databaseUrl, poolMax: 2 }).catch((err: unknown) => {
    orm = undefined;
    throw err;
  }));

const producer = new IssueEventProducer({
  kafka: createKafka({ brokers: config.kafka.brokers, clientId: `${config.kafka.clientId}-shard-${shard}`, logger }),
  topic: config.kafka.topic,
  observer: metrics,
});

const users = new UserDirectory({
  redis,
  fromDatabase: async (publicIds) => findUserIds(await database(), publicIds),
  onFallback: (reason) => metrics.fallback('users', reason),
  logger,
  maxKnown: config.userCacheMax,
});
metrics.watchUserDirectory(() => users.size);

const admitter = new Admitter({
  scripts: new AdmissionScripts(redis, { waitReplicas: config.redisWait.replicas, waitTimeoutMs: config.redisWait.timeoutMs }),
  users,
  knowledge,
  publish: (key, value) => producer.publish(key, value),
  canPublish: (key) => producer.availableFor(key),
  metrics,
  logger,
  retryAfterSeconds: 1,
});

// Every process learns at once when a coupon changes (stock added), whoever served the change.
const subscriber = duplicateRedis(redis, { name: `shard-${shard}-sub`, logger }, { enableOfflineQueue: true });
subscriber.on('message', (_channel: string, message: string) => {
  const change = parseCouponChange(message);
  if (change) couponChanged(change);
});
await redis.connect().catch((err: unknown) => logger.warn({ err }, 'Redis not reachable yet'));
await subscriber.subscribe(COUPON_CHANGED_CHANNEL).catch((err: unknown) => logger.warn({ err }, 'coupon change subscription pending'));
producer.connect().catch((err: unknown) => logger.warn({ err }, 'Kafka not reachable yet'));
if (config.userPreloadMax > 0) {
  // In the background: admission works meanwhile, asking Redis for users not read yet.
  const started = performance.now();
  users.preload(config.userPreloadMax).then(
    (count) => logger.info({ users: count, ms: Math.round(performance.now() - started) }, 'user directory preloaded'),
    (err: unknown) => logger.warn({ err }, 'user directory preload failed; users are learned on first sight'),
  );
}

export async function admit(batch: RequestBatch): Promise<OutcomeBatch> {
  return encodeOutcomes(await admitter.admit(requestsOf(batch)));
}

/**
 * A coupon changed. Also called directly by this process's router when it served the change, so
 * the very next request here sees it (the Redis broadcast reaches every process, but a moment later).
 */
export function couponChanged(change: CouponChange): void {
  if (change.kind === 'changed') knowledge.changed(change.couponId);
  else knowledge.forget(change.couponId);
}

/** Whether this shard can admit right now: Redis connected and the Kafka producer ready. */
export function readiness(): { redis: boolean; kafka: boolean } {
  if (!producer.connected) producer.connect().catch(() => undefined);
  return { redis: redis.status === 'ready', kafka: producer.connected };
}

export function metricsJson() {
  return metrics.registry.getMetricsAsJSON();
}

/** Sends what is queued to Kafka and closes connections; called on graceful shutdown. */
export async function close(): Promise<void> {
  await producer.disconnect().catch(() => undefined);
  subscriber.disconnect();
  redis.disconnect();
  if (orm) await (await orm).close().catch(() => undefined);
}
