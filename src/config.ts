import { availableParallelism } from 'node:os';

/**
 * The one place the process reads its environment. Every value has a default that works with the
 * local stack (`npm run services`), and every value is checked at start so a typo fails loudly with
 * the variable's name instead of surfacing later as a confusing connection error.
 */
export interface Config {
  env: 'development' | 'test' | 'production';
  host: string;
  port: number;
  /**
   * Connections the kernel may hold for the API before it accepts them (capped by
   * net.core.somaxconn). An event opening is thousands of connects at once; beyond the backlog the
   * kernel drops SYNs and those clients wait a whole retransmit (1 s, then 3 s) before even sending.
   */
  listenBacklog: number;
  logLevel: string;
  adminToken: string;
  /** True when ADMIN_TOKEN was not given and the development default is in use. */
  adminTokenIsDefault: boolean;
  redisUrl: string;
  databaseUrl: string;
  kafka: {
    brokers: string[];
    clientId: string;
    topic: string;
    deadLetterTopic: string;
    partitions: number;
    consumerGroup: string;
  };
  shards: number;
  /** How long a shard answers "sold out" from memory before asking Redis again. */
  soldOutTtlMs: number;
  /** Users each shard worker reads into memory at start (0: none; the rest are learned on first sight). */
  userPreloadMax: number;
  /** Load shedding and rate limits on the issue route; 0 turns a limit off. */
  limits: {
    /** Issue requests in progress per API process before new ones are shed with 503: the ceiling. */
    maxInFlight: number;
    /**
     * Latency (ms, inside the process) the in-flight limit steers admitted requests to: it moves
     * between a floor and maxInFlight with the load (src/http/adaptive-limit.ts). 0: a fixed cap.
     */
    inFlightTargetMs: number;
    /**
     * How long (ms, on average over 100 ms) arriving requests may wait before the main thread's
     * event loop reads them before the in-flight limit shrinks (0: not watched). Small, because it
     * is a mean and the budget is a tail: waits in a queue near saturation have a p99 several times
     * their mean, and an admitted request spends up to ~100 ms in the process on top. In floods at
     * twice capacity (bench/flood.ts) a target of 5 kept the accepted requests' tail lower than 20
     * did, and answered the shed ones sooner.
     */
    loopDelayTargetMs: number;
    /** Longest an issue request may wait for its shard worker before it is shed with 503 (0: off, the default). */
    maxQueueWaitMs: number;
    /** Event-loop delay (ms) past which every route sheds with 503 (@fastify/under-pressure). */
    maxEventLoopDelayMs: number;
    perUser: number;
    perIp: number;
    windowMs: number;
    /** Client addresses never rate limited (load generators, health checkers). */
    exempt: string[];
    trustProxy: boolean;
  };
  /** Whether `npm start` also runs the consumer (as a child process). */
  startConsumer: boolean;
  consumerMetricsPort: number;
  /** Where `npm run seed` writes the users' public ids for load tests. */
  seedUsersFile: string;
}

export const DEFAULT_ADMIN_TOKEN = 'dev-admin-token';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  return value;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function url(env: Env, name: string, fallback: string, protocols: string[]): string {
  const value = str(env, name, fallback);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be a URL, got "${value}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
  }
  return value;
}

function brokers(env: Env, name: string, fallback: string): string[] {
  const list = str(env, name, fallback).split(',').map((b) => b.trim()).filter(Boolean);
  for (const broker of list) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker)) {
      throw new ConfigError(`${name} must be a comma-separated list of host:port, got "${broker}"`);
    }
  }
  if (list.length === 0) throw new ConfigError(`${name} must name at least one broker`);
  return list;
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = str(env, 'NODE_ENV', 'development');
  if (nodeEnv !== 'development' && nodeEnv !== 'test' && nodeEnv !== 'production') {
    throw new ConfigError(`NODE_ENV must be development, test or production, got "${nodeEnv}"`);
  }
  const adminToken = str(env, 'ADMIN_TOKEN', '');
  if (nodeEnv === 'production' && (adminToken === '' || adminToken === DEFAULT_ADMIN_TOKEN)) {
    throw new ConfigError('ADMIN_TOKEN must be set to a secret of your own when NODE_ENV=production');
  }
  if (adminToken !== '' && adminToken.length < 12) {
    throw new ConfigError('ADMIN_TOKEN must be at least 12 characters long');
  }
  const topic = str(env, 'KAFKA_TOPIC', 'coupon.issue.requested');
  return {
    env: nodeEnv,
    host: str(env, 'HOST', '127.0.0.1'),
    port: int(env, 'PORT', 8080, 0, 65535),
    listenBacklog: int(env, 'LISTEN_BACKLOG', 4_096, 1, 1_000_000),
    logLevel: str(env, 'LOG_LEVEL', nodeEnv === 'test' ? 'warn' : 'info'),
    adminToken: adminToken || DEFAULT_ADMIN_TOKEN,
    adminTokenIsDefault: adminToken === '',
    redisUrl: url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    databaseUrl: url(env, 'DATABASE_URL', 'mysql://coupons:coupons@127.0.0.1:3306/coupons', ['mysql:', 'mariadb:']),
    kafka: {
      brokers: brokers(env, 'KAFKA_BROKERS', '127.0.0.1:9092'),
      clientId: str(env, 'KAFKA_CLIENT_ID', 'fcfs-coupons'),
      topic,
      deadLetterTopic: str(env, 'KAFKA_DEAD_LETTER_TOPIC', `${topic}.dlq`),
      partitions: int(env, 'KAFKA_PARTITIONS', 10, 1, 1000),
      consumerGroup: str(env, 'KAFKA_CONSUMER_GROUP', 'coupon-issuer'),
    },
    shards: int(env, 'SHARDS', availableParallelism(), 1, 256),
    soldOutTtlMs: int(env, 'SOLD_OUT_TTL_MS', 1_000, 0, 3_600_000),
    userPreloadMax: int(env, 'USER_PRELOAD_MAX', 200_000, 0, 100_000_000),
    limits: {
      maxInFlight: int(env, 'MAX_IN_FLIGHT', 256, 0, 1_000_000),
      inFlightTargetMs: int(env, 'IN_FLIGHT_TARGET_MS', 50, 0, 60_000),
      loopDelayTargetMs: int(env, 'LOOP_DELAY_TARGET_MS', 5, 0, 60_000),
      maxQueueWaitMs: int(env, 'MAX_QUEUE_WAIT_MS', 0, 0, 60_000),
      maxEventLoopDelayMs: int(env, 'MAX_EVENT_LOOP_DELAY_MS', 1_000, 0, 60_000),
      perUser: int(env, 'RATE_LIMIT_PER_USER', 20, 0, 1_000_000),
      perIp: int(env, 'RATE_LIMIT_PER_IP', 2_000, 0, 100_000_000),
      windowMs: int(env, 'RATE_LIMIT_WINDOW_MS', 10_000, 100, 3_600_000),
      // Loopback is exempt by default so local load tests measure the system, not the limiter;
      // set RATE_LIMIT_EXEMPT= (empty) to limit everyone.
      exempt: (env.RATE_LIMIT_EXEMPT ?? (nodeEnv === 'production' ? '' : '127.0.0.1,::1,::ffff:127.0.0.1'))
        .split(',').map((a) => a.trim()).filter(Boolean),
      trustProxy: bool(env, 'TRUST_PROXY', false),
    },
    startConsumer: bool(env, 'START_CONSUMER', true),
    consumerMetricsPort: int(env, 'CONSUMER_METRICS_PORT', 9464, 0, 65535),
    seedUsersFile: str(env, 'SEED_USERS_FILE', '.data/seed/users.json'),
  };
}
