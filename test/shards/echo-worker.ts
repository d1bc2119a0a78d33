/**
 * A stand-in for workers/shard.ts in the router's unit tests: the same task functions, no I/O.
 * `admit` answers every request ACCEPTED with a request id that says which thread served it, the
 * batch it came in and its place there; a coupon id of 999 makes the batch take 100 ms.
 */
import { threadId } from 'node:worker_threads';
import type { AdmissionOutcome, AdmissionRequest } from '../../src/admission/outcome.ts';

let batches = 0;

export async function admit(requests: AdmissionRequest[]): Promise<AdmissionOutcome[]> {
  const batch = batches++;
  if (requests.some((r) => r.couponId === 999)) await new Promise((r) => setTimeout(r, 100));
  return requests.map((r, i) => ({ result: 'ACCEPTED', requestId: `${threadId}:${batch}:${i}:${r.couponId}:${r.publicId}` }));
}

export function couponChanged(): void {}

export function readiness(): { redis: boolean; kafka: boolean } {
  return { redis: true, kafka: true };
}

export function metricsJson(): unknown[] {
  return [];
}

export async function close(): Promise<void> {}
