/**
 * A stand-in for workers/shard.ts in the router's unit tests: the same task functions, no I/O.
 * `admit` answers every request ACCEPTED with a request id that says which thread served it, the
 * batch it came in and its place there; a coupon id of 999 makes the batch take 100 ms.
 */
import { threadId } from 'node:worker_threads';
import { encodeOutcomes, requestsOf, type OutcomeBatch, type RequestBatch } from '../../src/shards/wire.ts';

let batches = 0;

export async function admit(wire: RequestBatch): Promise<OutcomeBatch> {
  const batch = batches++;
  const requests = requestsOf(wire);
  if (requests.some((r) => r.couponId === 999)) await new Promise((r) => setTimeout(r, 100));
  return encodeOutcomes(
    requests.map((r, i) => ({ result: 'ACCEPTED', requestId: `${threadId}:${batch}:${i}:${r.couponId}:${r.publicId}` })),
  );
}

export function couponChanged(): void {}

export function readiness(): { redis: boolean; kafka: boolean } {
  return { redis: true, kafka: true };
}

export function metricsJson(): unknown[] {
  return [];
}

export async function close(): Promise<void> {}
