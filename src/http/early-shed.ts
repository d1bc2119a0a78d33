import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ApiMetrics } from '../metrics/api-metrics.ts';
import { OVERLOADED, type IssueGate } from './issue-gate.ts';
import { ISSUE_ROUTE } from './routes/issue.ts';

/** The shed answer's bytes, as the route's own 503 would be (bench/intake-server.ts answers the same). */
export const SHED_BODY = JSON.stringify(OVERLOADED);
export const SHED_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(SHED_BODY)), 'retry-after': '1' };

/**
 * The shape of an issue path: a numeric coupon id and a UUID. A request not of that shape is never
 * shed: validation answers it 400, and "retry shortly" would be a lie for a request that can never
 * succeed.
 */
const ISSUE_PATH = /^\/api\/coupons\/[1-9]\d{0,9}\/issue-fcfs\/[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}(?:\?|$)/i;

/**
 * The HTTP server under Fastify, answering the issue requests the gate has no room for before
 * they are routed. In a flood the excess is most of the traffic, and what shedding it costs decides
 * whether the process keeps up with arrivals at all: through Fastify (request and reply objects, a
 * child logger, hooks, validation, serialisation) a 503 cost here about as much CPU as a request
 * that is served; from here it costs little more than Node's parsing. The answer is the one the
 * route itself gives when the gate refuses, and it is counted the same way.
 */
export function earlyShedServer(gate: IssueGate, metrics: ApiMetrics) {
  return (handler: (req: IncomingMessage, res: ServerResponse) => void, fastifyOptions: Record<string, unknown>): Server => {
    const opts = fastifyOptions as unknown as ServerTimeouts;
    const countShed = metrics.instantRequests({ route: ISSUE_ROUTE, method: 'POST', status_code: '503' });
    const server = createServer((req, res) => {
      if (req.method === 'POST' && ISSUE_PATH.test(req.url!) && gate.full()) {
        res.writeHead(503, SHED_HEADERS);
        res.end(SHED_BODY);
        countShed();
        return;
      }
      handler(req, res);
    });
    // What Fastify sets on a server it creates itself.
    server.keepAliveTimeout = opts.keepAliveTimeout;
    server.requestTimeout = opts.requestTimeout;
    server.setTimeout(opts.connectionTimeout);
    return server;
  };
}

/** Fastify's options as it hands them to a server factory, defaults applied. */
interface ServerTimeouts {
  keepAliveTimeout: number;
  requestTimeout: number;
  connectionTimeout: number;
}
