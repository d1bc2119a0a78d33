import { Redis } from 'ioredis';

export type { Redis };

export interface RedisOptions {
  url: string;
  /** A short name shown in CLIENT LIST, to tell shard workers and the consumer apart. */
  name: string;
}

/**
 * The Redis adapter. Commands fail fast while Redis is unreachable (no offline queue and a bounded
 * retry per request), so the API answers 503 quickly instead of letting requests pile up behind a
 * dead connection; the client keeps reconnecting in the background and recovers by itself.
 */
export function createRedis({ url, name }: RedisOptions): Redis {
  return new Redis(url, {
    connectionName: name,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(50 * attempt, 1_000),
    lazyConnect: true,
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
