import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

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
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...extra } = entry.log;
      log[LEVELS[entry.level] ?? 'info']({ namespace: entry.namespace, ...extra }, message);
    },
  });
}
