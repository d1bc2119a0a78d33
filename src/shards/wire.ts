import type { AdmissionOutcome, AdmissionRequest, AdmissionResult } from '../admission/outcome.ts';

/**
 * A batch of issue requests and its outcomes as they cross between the router and a shard worker.
 * postMessage clones an array of objects property by property, looking up each object's shape as
 * it rebuilds it; parallel arrays of numbers and strings clone at about half the cost, and a
 * sold-out spike is nothing but such batches. Plain data only, so any worker thread can take it.
 */
export interface RequestBatch {
  couponIds: number[];
  publicIds: string[];
}

export interface OutcomeBatch {
  /** One code per request, in the batch's order: the index of its result in RESULTS. */
  codes: Uint8Array;
  /** The requestId of each ACCEPTED outcome, in the batch's order. */
  requestIds: string[];
  /** The retryAfterSeconds of each UNAVAILABLE outcome, in the batch's order. */
  retryAfterSeconds: number[];
}

const RESULTS: readonly AdmissionResult[] = [
  'ACCEPTED',
  'ALREADY_ISSUED',
  'SOLD_OUT',
  'NOT_OPEN',
  'COUPON_NOT_FOUND',
  'USER_NOT_FOUND',
  'UNAVAILABLE',
];
const CODE = new Map(RESULTS.map((result, code) => [result, code]));
const ACCEPTED = CODE.get('ACCEPTED')!;
const UNAVAILABLE = CODE.get('UNAVAILABLE')!;
/** The outcomes that carry nothing but their result, shared rather than built per request. */
const BARE = RESULTS.map((result) => Object.freeze({ result }) as AdmissionOutcome);

export function requestsOf({ couponIds, publicIds }: RequestBatch): AdmissionRequest[] {
  return couponIds.map((couponId, i) => ({ couponId, publicId: publicIds[i]! }));
}

export function encodeOutcomes(outcomes: readonly AdmissionOutcome[]): OutcomeBatch {
  const codes = new Uint8Array(outcomes.length);
  const requestIds: string[] = [];
  const retryAfterSeconds: number[] = [];
  for (let i = 0; i < outcomes.length; i++) {
    const outcome = outcomes[i]!;
    codes[i] = CODE.get(outcome.result)!;
    if (outcome.result === 'ACCEPTED') requestIds.push(outcome.requestId);
    else if (outcome.result === 'UNAVAILABLE') retryAfterSeconds.push(outcome.retryAfterSeconds);
  }
  return { codes, requestIds, retryAfterSeconds };
}

/** Calls `each` with every outcome of the batch, in order. */
export function forEachOutcome(
  { codes, requestIds, retryAfterSeconds }: OutcomeBatch,
  each: (outcome: AdmissionOutcome, index: number) => void,
): void {
  let accepted = 0;
  let unavailable = 0;
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i]!;
    if (code === ACCEPTED) each({ result: 'ACCEPTED', requestId: requestIds[accepted++]! }, i);
    else if (code === UNAVAILABLE) each({ result: 'UNAVAILABLE', retryAfterSeconds: retryAfterSeconds[unavailable++]! }, i);
    else each(BARE[code]!, i);
  }
}
