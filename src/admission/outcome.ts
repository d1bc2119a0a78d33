/** What a shard worker answers for one issue request; the HTTP layer maps it to a status code. */
export type AdmissionOutcome =
  | { result: 'ACCEPTED'; requestId: string }
  | { result: 'ALREADY_ISSUED' | 'SOLD_OUT' | 'NOT_OPEN' | 'COUPON_NOT_FOUND' | 'USER_NOT_FOUND' }
  | { result: 'UNAVAILABLE'; retryAfterSeconds: number };

export type AdmissionResult = AdmissionOutcome['result'];

/** One request as it crosses the thread boundary: plain data only. */
export interface AdmissionRequest {
  couponId: number;
  publicId: string;
}
