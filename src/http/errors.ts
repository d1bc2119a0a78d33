/** The error codes of the contract (../shared/CONTRACT.md): clients branch on these, so they are fixed. */
export type ErrorCode =
  | 'INVALID_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'USER_NOT_FOUND'
  | 'COUPON_NOT_FOUND'
  | 'ALREADY_ISSUED'
  | 'SOLD_OUT'
  | 'NOT_OPEN'
  | 'RATE_LIMITED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNAVAILABLE'
  | 'INTERNAL';

/** An error meant for the client: its status, code and message are sent as they are. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly statusCode: number;
  readonly code: ErrorCode;
  readonly retryAfterSeconds: number | undefined;

  constructor(statusCode: number, code: ErrorCode, message: string, retryAfterSeconds?: number) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export const notFound = (code: 'USER_NOT_FOUND' | 'COUPON_NOT_FOUND' | 'NOT_FOUND', what: string) =>
  new ApiError(404, code, `${what} not found`);

export const unavailable = (retryAfterSeconds = 1, message = 'Temporarily unavailable, retry shortly') =>
  new ApiError(503, 'UNAVAILABLE', message, retryAfterSeconds);
