import type { FastifyInstance } from 'fastify';
import { AdmissionScripts } from '../store/scripts.ts';
import type { Config } from '../config.ts';
import { openOrm, pingDatabase, poolUsage, type Orm } from '../store/database/orm.ts';
import { couponCatalog } from '../catalog/coupons.ts';
import { userAccounts } from '../catalog/users.ts';
import { issueStatus } from '../issuance/status.ts';
import { broadcastCouponChange } from '../store/coupon-change.ts';
import { registerDbPoolMetrics } from '../metrics/db-pool.ts';
import type { CouponChange } from '../store/coupon-change.ts';
import { buildApp } from './app.ts';
import { OverloadControl } from '../overload/overload-control.ts';
import { RateLimiter } from '../overload/rate-limiter.ts';
import { IssueEventProducer } from '../issuance/producer.ts';
import { createKafka } from '../store/kafka.ts';
import type { Logger } from '../log.ts';
import { ApiMetrics } from '../metrics/api-metrics.ts';
import { Reconciler } from '../reconcile/reconciler.ts';
import { connectRedis, createRedis, type Redis } from '../store/redis.ts';
import { ShardRouter } from '../shards/router.ts';

export interface Api {
  app: FastifyInstance;
  orm: Orm;
  redis: Redis;
  router: ShardRouter;
  metrics: ApiMetrics;
  /** Graceful: stop accepting, finish in-flight requests, flush the producers, close pools. */
  close(): Promise<void>;
}

export interface ApiOptions {
  /**
   * The whole API's metrics when this process is one of several (ApiMetricsOptions.allProcesses);
   * unset, /metrics is this process's.
   */
  allProcessesMetrics?: () => Promise<string>;
}

/**
 * The API process's composition root: connects the adapters, starts the shard workers and builds
 * the Fastify app (not listening). `npm start` and the tests both start the system through here.
 */
export async function createApi(config: Config, logger: Logger, options: ApiOptions = {}): Promise<Api> {
  const orm = await openOrm({ databaseUrl: config.databaseUrl, poolMax: 20 });
  const redis = createRedis({ url: config.redisUrl, clusterNodes: config.redisClusterNodes, name: 'api', logger });
  await connectRedis(redis);
  const scripts = new AdmissionScripts(redis);

  const kafka = createKafka({ brokers: config.kafka.brokers, clientId: `${config.kafka.clientId}-api`, logger });
  const admin = kafka.admin();
  // Reconciliation's re-publishing only; issue requests publish from their shard worker.
  const producer = new IssueEventProducer({ kafka, topic: config.kafka.topic });

  const overload = new OverloadControl(config.limits);
  // The metrics read the router only at scrape time, so they can be built first.
  const metrics = new ApiMetrics({
    queueDepths: () => router.queueDepths(),
    workerMetrics: () => router.workerMetrics(),
    overload: () => overload.state(),
    allProcesses: options.allProcessesMetrics,
  });
  const router = new ShardRouter({
    config,
    shards: config.shards,
    maxQueueWaitMs: config.limits.maxQueueWaitMs,
    onShed: (count) => metrics.shed.inc({ reason: 'queue_wait' }, count),
    onDispatch: (waitsMs) => metrics.observeQueueWaits(waitsMs),
  });
  registerDbPoolMetrics(metrics.registry, () => poolUsage(orm));
  const reconciler = new Reconciler({
    orm,
    redis,
    scripts,
    publish: (key, value) => producer.publish(key, value),
    logger,
    observe: (report) => metrics.observeReconciliation(report),
  });

  const readiness = async () => {
    const [r, d, k, s] = await Promise.allSettled([
      redis.ping(),
      pingDatabase(orm),
      within(
        admin.connect().then(() => admin.describeCluster()),
        2_000,
      ),
      within(router.ready(), 2_000),
    ]);
    return {
      redis: r.status === 'fulfilled',
      database: d.status === 'fulfilled',
      kafka: k.status === 'fulfilled',
      shards: s.status === 'fulfilled' && s.value,
    };
  };

  const rateLimiter = new RateLimiter(config.limits, scripts, logger, (scope) => metrics.rateLimited.inc({ scope }));
  // "Admits again at once" after a restock holds in this process before the broadcast lands.
  const announce = async (change: CouponChange) => {
    await router.couponChanged(change);
    await broadcastCouponChange(redis, change);
  };
  const app = await buildApp({
    config,
    users: userAccounts(orm, redis),
    coupons: couponCatalog({ orm, redis, scripts, announce }),
    admit: (req, arrivedAt) => router.admit(req, arrivedAt),
    issueStatus: (couponId, publicId) => issueStatus(orm, redis, couponId, publicId),
    overload,
    rateLimiter,
    reconciler,
    metrics,
    readiness,
  });

  return {
    app,
    orm,
    redis,
    router,
    metrics,
    async close() {
      // In-flight requests get time to finish; a connection still open after that (a client that
      // never finishes its request, a request stuck somewhere) must not hold the shutdown, which
      // still has the shard workers' producers to flush.
      const force = setTimeout(() => {
        logger.warn(
          { issueRequestsInProgress: overload.inFlight, queued: router.queueDepths() },
          'connections still open 10 s into shutdown; closing them',
        );
        app.server.closeAllConnections();
      }, 10_000);
      await app.close();
      clearTimeout(force);
      logger.info('HTTP server closed; in-flight requests answered');
      await router.close();
      logger.info('shard workers closed; their producers flushed');
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      redis.disconnect();
      await orm.close();
    },
  };
}

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);
}
