import { ConnectionException, DeadlockException, LockWaitTimeoutException } from '@mikro-orm/core';

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_QUERY_INTERRUPTED',
]);

/**
 * Whether an error during persisting is the infrastructure's (wait and retry, forever: the data
 * is fine) or the message's (retry a few times, then dead-letter it with the reason). Getting this
 * wrong in the first direction stalls a partition; in the second it dead-letters good issuances
 * while the database is down, so anything unrecognised from a connection is treated as transient.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof ConnectionException || err instanceof DeadlockException || err instanceof LockWaitTimeoutException) return true;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
  if (typeof e?.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  // ioredis: no connection, or the command timed out.
  if (e?.name === 'MaxRetriesPerRequestError') return true;
  if (
    typeof e?.message === 'string' &&
    /Connection is closed|Stream isn't writeable|Command timed out|connect ECONNREFUSED|Pool is closed|Timeout acquiring/i.test(e.message)
  ) {
    return true;
  }
  return e?.cause !== undefined && e.cause !== err ? isTransient(e.cause) : false;
}

const GROUP_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);

/**
 * Whether a Kafka error says this member's view of its group is out of date: the group is
 * rebalancing, its coordinator moved, or the member was dropped. kafkajs recovers from these by
 * joining again (which looks the coordinator up afresh), but only once the error reaches its fetch
 * loop: retrying the request in place asks the same stale coordinator forever.
 */
export function isGroupChange(err: unknown): boolean {
  const type = (err as { type?: unknown })?.type;
  return typeof type === 'string' && GROUP_ERRORS.has(type);
}

/** Exponential backoff with full jitter, capped. */
export function backoffMs(attempt: number, baseMs = 100, capMs = 5_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.floor(Math.random() * ceiling);
}
