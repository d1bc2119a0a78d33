import { randomUUID } from 'node:crypto';

/**
 * The message an admission becomes: "this user won one unit of this coupon". Keyed by coupon id,
 * so one coupon's events stay in order on one partition.
 */
export interface CouponIssueRequested {
  type: 'CouponIssueRequested';
  version: 1;
  eventId: string;
  couponId: number;
  userId: number;
  publicId: string;
  requestedAt: string;
}

export class MalformedEventError extends Error {
  override name = 'MalformedEventError';
}

export function newIssueEvent(couponId: number, userId: number, publicId: string, at = new Date()): CouponIssueRequested {
  return {
    type: 'CouponIssueRequested',
    version: 1,
    eventId: randomUUID(),
    couponId,
    userId,
    publicId,
    requestedAt: at.toISOString(),
  };
}

export function encodeEvent(event: CouponIssueRequested): string {
  return JSON.stringify(event);
}

export function eventKey(couponId: number): string {
  return String(couponId);
}

/** A UUID as events carry them (event ids, public ids). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const isPositiveInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/** Parses a message value; throws MalformedEventError with the reason for anything else. */
export function decodeEvent(value: Buffer | string | null): CouponIssueRequested {
  if (value === null) throw new MalformedEventError('empty message');
  let data: unknown;
  try {
    data = JSON.parse(value.toString());
  } catch {
    throw new MalformedEventError('value is not JSON');
  }
  if (typeof data !== 'object' || data === null) throw new MalformedEventError('value is not an object');
  const e = data as Record<string, unknown>;
  if (e.type !== 'CouponIssueRequested') throw new MalformedEventError(`unknown type ${JSON.stringify(e.type)}`);
  if (e.version !== 1) throw new MalformedEventError(`unsupported version ${JSON.stringify(e.version)}`);
  if (typeof e.eventId !== 'string' || !UUID.test(e.eventId)) throw new MalformedEventError('eventId is not a UUID');
  if (!isPositiveInt(e.couponId)) throw new MalformedEventError('couponId is not a positive integer');
  if (!isPositiveInt(e.userId)) throw new MalformedEventError('userId is not a positive integer');
  if (typeof e.publicId !== 'string' || !UUID.test(e.publicId)) throw new MalformedEventError('publicId is not a UUID');
  if (typeof e.requestedAt !== 'string' || Number.isNaN(Date.parse(e.requestedAt))) {
    throw new MalformedEventError('requestedAt is not a timestamp');
  }
  return {
    type: 'CouponIssueRequested',
    version: 1,
    eventId: e.eventId,
    couponId: e.couponId,
    userId: e.userId,
    publicId: e.publicId,
    requestedAt: e.requestedAt,
  };
}
