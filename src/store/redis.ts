import { Cluster, Redis as SingleRedis, type RedisOptions as IORedisOptions } from 'ioredis';
import type { Logger } from '../log.ts';

/** One Redis server or a Redis Cluster: the same commands, and every key this service uses carries a hash tag. */
export type Redis = SingleRedis | Cluster;

export interface RedisOptions {
  url: string;
  /** Seed nodes (host:port) of a Redis Cluster; empty: the single server at `url`. */
  clusterNodes?: readonly string[];
  /** A short name shown in CLIENT LIST, to tell shard workers and the consumer apart. */
  name: string;
  logger: Logger;
}

/** Per connection, for one server or each node of a cluster. */
const CONNECTION: IORedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
  commandTimeout: 2_000,
  retryStrategy: (attempt) => Math.min(50 * attempt, 1_000),
};

/**
 * The Redis adapter. Commands fail fast while Redis is unreachable (no offline queue and a bounded
 * retry per request), so the API answers 503 quickly instead of letting requests pile up behind a
 * dead connection; the client keeps reconnecting in the background and recovers by itself.
 *
 * On a cluster, a master's death is noticed by the other masters after cluster-node-timeout, its
 * replica is promoted, and ioredis learns the new slot map on the next MOVED or refresh: until then
 * the dead master's slots fail fast like a single dead server (the coupons on the others go on).
 */
export function createRedis({ url, clusterNodes = [], name, logger }: RedisOptions): Redis {
  const redis =
    clusterNodes.length > 0
      ? new Cluster(
          clusterNodes.map((node) => {
            const at = node.lastIndexOf(':');
            return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
          }),
          {
            redisOptions: { ...CONNECTION, connectionName: name },
            enableOfflineQueue: false,
            enableAutoPipelining: true,
            lazyConnect: true,
            scaleReads: 'master',
            clusterRetryStrategy: (attempt) => Math.min(100 * attempt, 1_000),
            // After a MOVED or a node lost: wait for the promotion rather than spin on a stale map.
            retryDelayOnFailover: 200,
            retryDelayOnClusterDown: 200,
            retryDelayOnMoved: 0,
            slotsRefreshTimeout: 2_000,
            slotsRefreshInterval: 1_000,
          },
        )
      : new SingleRedis(url, { ...CONNECTION, connectionName: name, enableAutoPipelining: true, lazyConnect: true });
  reportConnection(redis, logger.child({ redis: name }));
  return redis;
}

/**
 * A second connection with the same settings (a subscriber needs one of its own). ioredis's
 * duplicates do not inherit listeners, so it is reported on like the first.
 */
export function duplicateRedis(
  redis: Redis,
  { name, logger }: Omit<RedisOptions, 'url'>,
  overrides: { enableOfflineQueue?: boolean } = {},
): Redis {
  const copy =
    redis instanceof Cluster
      ? redis.duplicate(undefined, { ...overrides, redisOptions: { ...redis.options.redisOptions, connectionName: name } })
      : redis.duplicate({ ...overrides, connectionName: name });
  reportConnection(copy, logger.child({ redis: name }));
  return copy;
}

/** What `reportConnection` listens to: a Redis client, or any emitter of the same two events. */
interface ConnectionEvents {
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
}

/**
 * Reports a connection's health: one warning when it is lost and one line when it is back.
 * ioredis emits an error for every reconnect attempt (and prints to stderr any it cannot hand to a
 * listener), so an outage would otherwise be a line a second, or a silence.
 */
export function reportConnection(redis: ConnectionEvents, logger: Logger): void {
  let lost = false;
  redis.on('error', (err) => {
    if (lost) {
      logger.debug({ err }, 'Redis still unreachable');
      return;
    }
    lost = true;
    logger.warn({ err }, 'Redis connection lost; commands fail fast until it is back');
  });
  redis.on('ready', () => {
    if (!lost) return;
    lost = false;
    logger.info('Redis connection back');
  });
}

/** Connects and waits until Redis answers, retrying for up to `timeoutMs`. */
export async function connectRedis(redis: Redis, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  if (redis.status === 'wait') await redis.connect().catch(() => undefined);
  for (;;) {
    try {
      if (redis.status === 'ready') {
        await redis.ping();
        return;
      }
    } catch {
      // keep waiting until the deadline
    }
    if (Date.now() > deadline) throw new Error(`Redis not reachable within ${timeoutMs} ms (status ${redis.status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
