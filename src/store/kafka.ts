import { createRequire } from 'node:module';
import { Kafka, logLevel, Partitioners, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
}

type Level = 'error' | 'warn' | 'info' | 'debug';

const LEVELS: Record<number, Level> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * The partitioner every producer of ours names, so kafkajs does not warn that its default changed
 * in 2.0. It is that default, the Java client's murmur2 of the key: issue events keyed by coupon id
 * land on the partitions they always have, and any Java or Kafka Streams tool agrees on them.
 */
export const PARTITIONER = Partitioners.DefaultPartitioner;

/**
 * Warned for every idempotent producer whose retries are bounded, as ours are (see createKafka).
 * What it warns of, a failed send's sequence numbers reused by the next one, cannot happen here:
 * the issue event producer never sends again on a producer whose send failed
 * (src/issuance/producer.ts). Kept at debug so that an operator's warnings mean something.
 */
const BOUNDED_RETRIES_WARNING = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

/**
 * Kafka's protocol errors as kafkajs knows them (its own table, not part of its public API): the
 * message each carries and whether the client retries it. kafkajs logs a failed response at ERROR
 * with the error's message only, so the message is how a log entry finds its error again.
 */
const RETRIABLE_BY_MESSAGE: ReadonlyMap<string, boolean> = new Map(
  (
    createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as { errorCodes: { message: string; retriable: boolean }[] }
  ).errorCodes.map(({ message, retriable }) => [message, retriable]),
);

interface KafkaLogRecord {
  level: Level;
  fields: Record<string, unknown>;
  message: string;
}

/** Whether what a kafkajs log entry reports is a condition kafkajs retries by itself. */
function isRetriable(error: unknown): boolean {
  if (error instanceof Error) return (error as Error & { retriable?: unknown }).retriable === true;
  return typeof error === 'string' && RETRIABLE_BY_MESSAGE.get(error) === true;
}

/**
 * A consumer crash kafkajs recovers from by itself: it logs "Crash: <name>: <message>" at ERROR,
 * then, for a retriable error, "Restarting the consumer in <n>ms" (also at ERROR) and rejoins. A
 * group coordinator still loading after a broker start is the usual one, on every cluster start.
 */
function isRetriedCrash(message: string): boolean {
  if (message.startsWith('Restarting the consumer in ')) return true;
  const crash = /^Crash: KafkaJSProtocolError: (.*)$/s.exec(message);
  return crash !== null && RETRIABLE_BY_MESSAGE.get(crash[1]!) === true;
}

/**
 * How one kafkajs log entry goes to our log. A retriable condition (a coordinator still loading
 * its group after the broker started, a leader being elected) is logged by kafkajs at ERROR and
 * then retried: a warning here, so that an ERROR line means what kafkajs gave up on, which it logs
 * again at ERROR (a crashed consumer, a failed send, a broker it cannot reach). An error object
 * goes under `err`, where pino's serializer keeps its stack.
 */
export function kafkaLogRecord(kafkaLevel: number, entry: LogEntry['log']): KafkaLogRecord {
  const { message, error, stack, ...fields } = entry;
  let level = LEVELS[kafkaLevel] ?? 'info';
  if (message === BOUNDED_RETRIES_WARNING) level = 'debug';
  else if (level === 'error' && (isRetriable(error) || isRetriedCrash(message))) level = 'warn';
  if (error instanceof Error) return { level, fields: { ...fields, err: error }, message };
  return { level, fields: { ...fields, ...(error === undefined ? {} : { error }), ...(stack === undefined ? {} : { stack }) }, message };
}

/**
 * The Kafka adapter. Timeouts and retries are short on purpose: a request that cannot reach the
 * broker should become a fast 503 with Retry-After, not a request hanging for kafkajs's defaults
 * (30 s of retries).
 */
export function createKafka({ brokers, clientId, logger }: KafkaOptions): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    // About 5 s of retries in all: a broker electing leaders or loading its coordinator recovers
    // within that; a dead one should become a 503 at about the same time as our own send timeout.
    retry: { initialRetryTime: 100, retries: 6, maxRetryTime: 1_000 },
    // kafkajs's debug log is every request to a broker: only when ours is at trace.
    logLevel: log.isLevelEnabled('trace') ? logLevel.DEBUG : logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { level, fields, message } = kafkaLogRecord(entry.level, entry.log);
      log[level]({ namespace: entry.namespace, ...fields }, message);
    },
  });
}
