import type { ServerResponse } from 'node:http';

/**
 * The one refusal answer of the issue route, wherever the request is turned away: before routing,
 * in the route, by the rate limiter, by a queue deadline or by the event-loop backstop. A refusal
 * always says when to come back (Retry-After, whole seconds as HTTP has them).
 */
export interface Refusal {
  refused: true;
  status: 429 | 503;
  code: 'RATE_LIMITED' | 'UNAVAILABLE';
  message: string;
  retryAfterSeconds: number;
}

/** What a shed request is told. */
export const OVERLOADED = { code: 'UNAVAILABLE', message: 'Overloaded, retry shortly' } as const;

export function overloaded(retryAfterSeconds = 1): Refusal {
  return { refused: true, status: 503, code: OVERLOADED.code, message: OVERLOADED.message, retryAfterSeconds };
}

export function rateLimited(retryAfterSeconds: number): Refusal {
  return {
    refused: true,
    status: 429,
    code: 'RATE_LIMITED',
    message: 'Too many requests, slow down',
    retryAfterSeconds: Math.max(1, retryAfterSeconds),
  };
}

export function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && 'refused' in value;
}

export function refusalBody(refusal: Refusal): { code: Refusal['code']; message: string } {
  return { code: refusal.code, message: refusal.message };
}

/** The shed answer's bytes, written before routing (and by bench/intake-server.ts, the floor). */
export const SHED_BODY = JSON.stringify(OVERLOADED);
export const SHED_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'content-length': String(Buffer.byteLength(SHED_BODY)),
  'retry-after': '1',
};

/** Writes the shed answer on a raw response, unless the client has gone meanwhile (a held refusal). */
export function writeShed(res: ServerResponse): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(503, SHED_HEADERS);
  res.end(SHED_BODY);
}
