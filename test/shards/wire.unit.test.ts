import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AdmissionOutcome } from '../../src/admission/outcome.ts';
import { encodeOutcomes, forEachOutcome, requestsOf } from '../../src/shards/wire.ts';

function decoded(outcomes: AdmissionOutcome[]): AdmissionOutcome[] {
  const out: AdmissionOutcome[] = [];
  // Through structuredClone, as postMessage carries it.
  forEachOutcome(structuredClone(encodeOutcomes(outcomes)), (outcome, i) => {
    out[i] = outcome;
  });
  return out;
}

describe('the wire between the router and a shard worker', () => {
  it('carries every kind of outcome, in order, with its request id or retry delay', () => {
    const outcomes: AdmissionOutcome[] = [
      { result: 'SOLD_OUT' },
      { result: 'ACCEPTED', requestId: 'r1' },
      { result: 'UNAVAILABLE', retryAfterSeconds: 1 },
      { result: 'ALREADY_ISSUED' },
      { result: 'ACCEPTED', requestId: 'r2' },
      { result: 'NOT_OPEN' },
      { result: 'COUPON_NOT_FOUND' },
      { result: 'UNAVAILABLE', retryAfterSeconds: 3 },
      { result: 'USER_NOT_FOUND' },
    ];
    assert.deepEqual(decoded(outcomes), outcomes);
  });

  it('carries an empty batch', () => {
    assert.deepEqual(decoded([]), []);
  });

  it('gives the requests back as they were batched', () => {
    const batch = structuredClone({ couponIds: [3, 1, 3], publicIds: ['a', 'b', 'c'] });
    assert.deepEqual(requestsOf(batch), [
      { couponId: 3, publicId: 'a' },
      { couponId: 1, publicId: 'b' },
      { couponId: 3, publicId: 'c' },
    ]);
  });
});
