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
  /** Seed nodes (host:port) of a Redis Cluster; when set, every Redis use goes to the cluster and redisUrl is unused. */
  redisClusterNodes: string[];
  /**
   * Replicas that must hold an admission before it is promised (Redis WAIT after the admission
   * script, on the master that ran it): a promoted replica then knows every admission answered 202.
   * Not acknowledged in time: the admission is given back and the request answered 503.
   */
  redisWait: { replicas: number; timeoutMs: number };
  databaseUrl: string;
  kafka: {
    brokers: string[];
    clientId: string;
    topic: string;
    deadLetterTopic: string;
    partitions: number;
    /** Copies of each partition the project creates its topics with. */
    replicationFactor: number;
    /** Copies that must have a message before an acks=all send is acknowledged (the topics' min.insync.replicas). */
    minInsyncReplicas: number;
    consumerGroup: string;
  };
  /**
   * API processes `npm start` runs on PORT (node:cluster shares the port); 1 is one process and no
   * cluster. Each has its own shard workers: Redis is the only state they share.
   */
  apiProcesses: number;
  /** Shard worker threads per API process. */
  shards: number;
  /** How long a shard answers "sold out" from memory before asking Redis again. */
  soldOutTtlMs: number;
  /** Users each shard worker reads into memory at start (0: none; the rest are learned on first sight). */
  userPreloadMax: number;
  /** Most users each shard worker keeps in memory, the preloaded ones included. */
  userCacheMax: number;
  /** Load shedding and rate limits on the issue route; 0 turns a limit off. */
  limits: {
    /**
     * Most issue requests one API process takes in at once (waiting for a shard worker or served),
     * whatever the admission limit says; 0 turns overload control off (nothing is refused).
     */
    maxInFlight: number;
    /**
     * The time (ms) in the process the admission limit keeps issue requests to: it takes in
     * measured throughput × this (Little's law) and refuses the newest arrivals beyond that
     * (src/overload/admission-limit.ts). 0: maxInFlight is a fixed cap.
     */
    inFlightTargetMs: number;
    /**
     * How long (ms, on average over 100 ms) arriving requests may wait before the main thread's
     * event loop reads them: beyond it the admission limit scales down and refusals are paced
     * (0: not watched). Small, because it is a mean and the budget is a tail.
     */
    loopDelayTargetMs: number;
    /** Longest an issue request may wait for its shard worker before it is answered 503 (0: however long). */
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
  /** Consumer processes `npm start` runs (one consumer group). */
  consumers: number;
  /** 0: a free port, chosen at start (and logged). */
  consumerMetricsPort: number;
  /** How long an assigned partition may have events waiting with no batch before the consumer restarts its Kafka client. */
  consumerStallMs: number;
  /** Where `npm run seed` writes the users' public ids for load tests. */
  seedUsersFile: string;
}

export const DEFAULT_ADMIN_TOKEN = 'dev-admin-token';

/**
 * A variable the process reads. `default` is what `.env.example` shows and what an unset (or
 * empty) variable means; an empty default means one worked out at start, which `doc` explains
 * (RATE_LIMIT_EXEMPT alone tells unset from empty).
 */
interface Variable {
  /** Starts a group of variables in `.env.example`, under this comment. */
  group?: string;
  default: string | number | boolean;
  doc?: string;
}

/**
 * Every variable the process reads, each declared once. loadConfig reads them from here (names,
 * defaults) and adds ranges and checks; `npm run env:example` writes `.env.example` from here, and
 * a test fails when that file and this table disagree. To add a variable: a row here, a read in
 * loadConfig, then `npm run env:example`.
 */
export const VARIABLES = {
  NODE_ENV: { default: 'development', doc: 'development | test | production. Production refuses to start without a real ADMIN_TOKEN.' },
  HOST: { default: '127.0.0.1' },
  PORT: { default: 8080 },
  LISTEN_BACKLOG: {
    default: 4_096,
    doc: `Connections the kernel queues before the API accepts them (capped by net.core.somaxconn): an event
      opening connects thousands at once, and SYNs beyond the backlog wait a 1 s retransmit.`,
  },
  LOG_LEVEL: {
    default: '',
    doc: "pino level; empty: info, or warn when NODE_ENV=test. trace adds kafkajs's debug log (every broker request).",
  },
  ADMIN_TOKEN: {
    default: '',
    doc: `Bearer token for admin routes (POST /api/coupons, /stock, /reconciliation); at least 12 chars. Unset in
      development: "dev-admin-token", with a warning.`,
  },

  REDIS_URL: { group: '', default: 'redis://127.0.0.1:6379' },
  REDIS_CLUSTER_NODES: {
    default: '',
    doc: `Comma-separated host:port of some Redis Cluster nodes (any of them; the rest are discovered): every Redis
      use goes to the cluster instead of REDIS_URL. \`STACK=cluster npm run services\` starts one on 7001-7006.`,
  },
  REDIS_WAIT_REPLICAS: {
    default: '',
    doc: `Replicas that must acknowledge an admission before the 202 (docs/failover.md); empty: 1 on a cluster, 0 on a
      single Redis. 0 promises on the master's word alone: a failover can lose what it had not yet replicated.`,
  },
  REDIS_WAIT_TIMEOUT_MS: {
    default: 100,
    doc: 'How long an admission waits for its replicas; past it the admission is given back and answered 503.',
  },
  DATABASE_URL: { default: 'mysql://coupons:coupons@127.0.0.1:3306/coupons' },

  KAFKA_BROKERS: { group: '', default: '127.0.0.1:9092', doc: 'Comma-separated host:port.' },
  KAFKA_CLIENT_ID: { default: 'fcfs-coupons' },
  KAFKA_TOPIC: { default: 'coupon.issue.requested' },
  KAFKA_DEAD_LETTER_TOPIC: { default: '', doc: 'Empty: KAFKA_TOPIC followed by ".dlq".' },
  KAFKA_PARTITIONS: { default: 10 },
  KAFKA_REPLICATION_FACTOR: {
    default: 1,
    doc: 'Copies of each partition, for the topics the project creates (3 on the cluster stack: STACK=cluster).',
  },
  KAFKA_MIN_INSYNC_REPLICAS: {
    default: 1,
    doc: `min.insync.replicas of those topics: copies that must have an event before the broker acknowledges it and
      the API answers 202 (2 on the cluster stack, so a 202 survives the loss of any one broker).`,
  },
  KAFKA_CONSUMER_GROUP: { default: 'coupon-issuer' },

  API_PROCESSES: {
    group: '',
    default: '',
    doc: `API processes \`npm start\` runs, all on PORT (node:cluster): a dead one is replaced while the others
      serve. Empty: one per core; 1: a single process, no cluster.`,
  },
  SHARDS: {
    default: '',
    doc: `Shard worker threads per API process (one owner per coupon); empty: the cores shared among the API
      processes, at least one each.`,
  },
  SOLD_OUT_TTL_MS: {
    default: 1_000,
    doc: `How long a shard answers SOLD_OUT from memory before asking Redis again (adding stock clears it at
      once).`,
  },
  USER_PRELOAD_MAX: {
    default: 200_000,
    doc: `Users each shard worker reads from Redis into memory at start, so the spike's user checks cost no I/O
      (a 32-byte slot each in a table at most half full, per worker); 0 turns it off.`,
  },

  USER_CACHE_MAX: {
    default: 400_000,
    doc: `Most users each shard worker keeps in memory, the preloaded ones included (64-128 bytes each); past
      half of it the older half is dropped, so an event with more users costs Redis reads, not memory without
      bound. USER_PRELOAD_MAX above half of it preloads only half.`,
  },

  MAX_IN_FLIGHT: {
    group: 'Overload control on the issue route (503 UNAVAILABLE with Retry-After; docs/overload.md).',
    default: 10_000,
    doc: `Most issue requests one API process takes in at once (waiting for a shard worker or served), whatever
      the admission limit says; 0 turns overload control off (nothing is refused).`,
  },
  IN_FLIGHT_TARGET_MS: {
    default: 100,
    doc: `Time (ms) in the process the admission limit keeps issue requests to: it takes in measured throughput
      × this (Little's law) and refuses the newest arrivals beyond; 0 makes MAX_IN_FLIGHT a fixed cap.`,
  },
  LOOP_DELAY_TARGET_MS: {
    default: 0,
    doc: `Mean wait (ms, over 100 ms) of arriving requests for the main thread's event loop past which the
      admission limit counts it against IN_FLIGHT_TARGET_MS (twice: the slowest arrival's wait); 0 ignores the
      event loop.`,
  },
  MAX_QUEUE_WAIT_MS: {
    default: 1_000,
    doc: `Longest an issue request may wait for its shard worker, from when the process took it in, before it is
      answered 503 (a worker stalled, a dependency gone); 0: however long.`,
  },
  MAX_EVENT_LOOP_DELAY_MS: { default: 1_000, doc: 'Event-loop delay (ms) past which every route sheds (@fastify/under-pressure).' },

  RATE_LIMIT_PER_USER: { group: 'Redis-backed rate limits on the issue route (429 RATE_LIMITED); 0 turns each off.', default: 20 },
  RATE_LIMIT_PER_IP: { default: 2_000 },
  RATE_LIMIT_WINDOW_MS: { default: 10_000 },
  RATE_LIMIT_EXEMPT: {
    // Unlike the others, empty is not the default: a copy of this file limits every client even
    // outside production, rather than exempt a proxy's loopback address in production.
    default: '',
    doc: `Client addresses never rate limited, comma-separated. Unset: loopback outside production, none in
      production. Empty, as here: every client is limited.`,
  },
  TRUST_PROXY: { default: false, doc: 'Take the client address from X-Forwarded-For (behind a trusted proxy only).' },

  START_CONSUMER: { group: '', default: true, doc: 'Whether `npm start` also runs the consumer (as a child process).' },
  CONSUMERS: {
    default: 1,
    doc: `Consumer processes \`npm start\` runs, one consumer group; their metrics on CONSUMER_METRICS_PORT and the
      ports above it.`,
  },
  CONSUMER_METRICS_PORT: {
    default: 9464,
    doc: "Port of the consumer's /metrics and /health/live; 0: a free one, logged at start (several consumers on one machine).",
  },
  CONSUMER_STALL_MS: {
    default: 20_000,
    doc: `How long (ms) an assigned partition may have events waiting with no batch before the consumer restarts its
      Kafka client (a client that kept fetching from a dead leader); 0: never.`,
  },
  SEED_USERS_FILE: { default: '.data/seed/users.json', doc: "Where `npm run seed` writes the users' public ids for load tests." },
} as const satisfies Record<string, Variable>;

type VariableName = keyof typeof VARIABLES;

/**
 * `.env.example`, written from VARIABLES: every variable with its default and, above it, its doc
 * (and a group's comment before the group) wrapped at 100 columns.
 */
export function renderEnvExample(): string {
  const lines = [
    '# Every variable the app reads (src/config.ts), with its default. Nothing here is required for',
    '# the local stack (`npm run up`); set them for other environments. Bad values stop the process at',
    '# start with a message naming the variable.',
    '# Written by `npm run env:example` from the table in src/config.ts: edit that, not this file.',
    '',
  ];
  for (const [name, variable] of Object.entries(VARIABLES) as [string, Variable][]) {
    if (variable.group !== undefined) lines.push('', ...comment(variable.group));
    lines.push(...comment(variable.doc ?? ''), `${name}=${variable.default}`);
  }
  return `${lines.join('\n')}\n`;
}

function comment(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line.length > 1 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  if (line.length > 1) lines.push(line);
  return lines;
}

/** A variable's default as the type its reader wants: a mismatch in the table fails at the first loadConfig. */
function defaultOf<T extends keyof DefaultTypes>(name: VariableName, type: T): DefaultTypes[T] {
  const value: unknown = VARIABLES[name].default;
  if (typeof value !== type) throw new Error(`config.ts: ${name} needs a ${type} default, has ${JSON.stringify(value)}`);
  return value as DefaultTypes[T];
}

interface DefaultTypes {
  string: string;
  number: number;
  boolean: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: VariableName, fallback = defaultOf(name, 'string')): string {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  return value;
}

function int(env: Env, name: VariableName, min: number, max: number, fallback = defaultOf(name, 'number')): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function bool(env: Env, name: VariableName, fallback = defaultOf(name, 'boolean')): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function url(env: Env, name: VariableName, protocols: string[]): string {
  const value = str(env, name);
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

function hostPorts(env: Env, name: VariableName, { required }: { required: boolean }): string[] {
  const list = str(env, name)
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  for (const broker of list) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker)) {
      throw new ConfigError(`${name} must be a comma-separated list of host:port, got "${broker}"`);
    }
  }
  if (required && list.length === 0) throw new ConfigError(`${name} must name at least one host:port`);
  return list;
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = str(env, 'NODE_ENV');
  if (nodeEnv !== 'development' && nodeEnv !== 'test' && nodeEnv !== 'production') {
    throw new ConfigError(`NODE_ENV must be development, test or production, got "${nodeEnv}"`);
  }
  const adminToken = str(env, 'ADMIN_TOKEN');
  if (nodeEnv === 'production' && (adminToken === '' || adminToken === DEFAULT_ADMIN_TOKEN)) {
    throw new ConfigError('ADMIN_TOKEN must be set to a secret of your own when NODE_ENV=production');
  }
  if (adminToken !== '' && adminToken.length < 12) {
    throw new ConfigError('ADMIN_TOKEN must be at least 12 characters long');
  }
  const topic = str(env, 'KAFKA_TOPIC');
  const redisClusterNodes = hostPorts(env, 'REDIS_CLUSTER_NODES', { required: false });
  const replicationFactor = int(env, 'KAFKA_REPLICATION_FACTOR', 1, 16);
  const apiProcesses = int(env, 'API_PROCESSES', 1, 256, availableParallelism());
  return {
    env: nodeEnv,
    host: str(env, 'HOST'),
    port: int(env, 'PORT', 0, 65535),
    listenBacklog: int(env, 'LISTEN_BACKLOG', 1, 1_000_000),
    logLevel: str(env, 'LOG_LEVEL', nodeEnv === 'test' ? 'warn' : 'info'),
    adminToken: adminToken || DEFAULT_ADMIN_TOKEN,
    adminTokenIsDefault: adminToken === '',
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redisClusterNodes,
    redisWait: {
      replicas: int(env, 'REDIS_WAIT_REPLICAS', 0, 16, redisClusterNodes.length > 0 ? 1 : 0),
      timeoutMs: int(env, 'REDIS_WAIT_TIMEOUT_MS', 1, 60_000),
    },
    databaseUrl: url(env, 'DATABASE_URL', ['mysql:', 'mariadb:']),
    kafka: {
      brokers: hostPorts(env, 'KAFKA_BROKERS', { required: true }),
      clientId: str(env, 'KAFKA_CLIENT_ID'),
      topic,
      deadLetterTopic: str(env, 'KAFKA_DEAD_LETTER_TOPIC', `${topic}.dlq`),
      partitions: int(env, 'KAFKA_PARTITIONS', 1, 1000),
      replicationFactor,
      minInsyncReplicas: int(env, 'KAFKA_MIN_INSYNC_REPLICAS', 1, replicationFactor),
      consumerGroup: str(env, 'KAFKA_CONSUMER_GROUP'),
    },
    apiProcesses,
    // Split, not per process: each shard worker holds its own preloaded users, Redis connections and
    // Kafka producer, and cores × cores of them would only contend for the same cores.
    shards: int(env, 'SHARDS', 1, 256, Math.max(1, Math.floor(availableParallelism() / apiProcesses))),
    soldOutTtlMs: int(env, 'SOLD_OUT_TTL_MS', 0, 3_600_000),
    userPreloadMax: int(env, 'USER_PRELOAD_MAX', 0, 100_000_000),
    userCacheMax: int(env, 'USER_CACHE_MAX', 2, 100_000_000),
    limits: {
      maxInFlight: int(env, 'MAX_IN_FLIGHT', 0, 1_000_000),
      inFlightTargetMs: int(env, 'IN_FLIGHT_TARGET_MS', 0, 60_000),
      loopDelayTargetMs: int(env, 'LOOP_DELAY_TARGET_MS', 0, 60_000),
      maxQueueWaitMs: int(env, 'MAX_QUEUE_WAIT_MS', 0, 60_000),
      maxEventLoopDelayMs: int(env, 'MAX_EVENT_LOOP_DELAY_MS', 0, 60_000),
      perUser: int(env, 'RATE_LIMIT_PER_USER', 0, 1_000_000),
      perIp: int(env, 'RATE_LIMIT_PER_IP', 0, 100_000_000),
      windowMs: int(env, 'RATE_LIMIT_WINDOW_MS', 100, 3_600_000),
      // Loopback is exempt by default so local load tests measure the system, not the limiter;
      // set RATE_LIMIT_EXEMPT= (empty) to limit everyone.
      exempt: (env.RATE_LIMIT_EXEMPT ?? (nodeEnv === 'production' ? '' : '127.0.0.1,::1,::ffff:127.0.0.1'))
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
      trustProxy: bool(env, 'TRUST_PROXY'),
    },
    startConsumer: bool(env, 'START_CONSUMER'),
    consumers: int(env, 'CONSUMERS', 1, 64),
    consumerMetricsPort: int(env, 'CONSUMER_METRICS_PORT', 0, 65535),
    consumerStallMs: int(env, 'CONSUMER_STALL_MS', 0, 3_600_000),
    seedUsersFile: str(env, 'SEED_USERS_FILE'),
  };
}
