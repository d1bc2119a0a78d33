import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { OverloadControl } from './overload-control.ts';
import { writeShed } from './refusal.ts';

/**
 * The shape of an issue path: a numeric coupon id and a UUID. A request not of that shape is never
 * refused here: validation answers it 400, and "retry shortly" would be a lie for a request that
 * can never succeed.
 */
const ISSUE_PATH = /^\/api\/coupons\/[1-9]\d{0,9}\/issue-fcfs\/[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}(?:\?|$)/i;

/** Set on a request the intake took in: when it arrived (performance.now() ms). */
export const ENTERED_AT = Symbol('enteredAt');
type Entered = IncomingMessage & { [ENTERED_AT]?: number };
/** Set on a connection when a refusal was last written on it (performance.now() ms). */
const REFUSED_AT = Symbol('refusedAt');
type Refused = Socket & { [REFUSED_AT]?: number };

/** When the intake took the request in, if it came through the intake (not `app.inject`). */
export function enteredAt(req: IncomingMessage): number | undefined {
  return (req as Entered)[ENTERED_AT];
}

/**
 * The HTTP server under Fastify. Every issue request is decided here, as soon as Node has parsed
 * it and before Fastify routes it: taken in (and let go when its response closes, whatever the
 * answer), or refused. In a flood the refused are most of the traffic, and through Fastify (request
 * and reply objects, hooks, validation, serialisation) a refusal would cost about what a served
 * request costs; from here it costs little more than Node's parsing. `countShed` counts each refusal.
 */
export function intakeServer(control: OverloadControl, countShed: () => void) {
  return (handler: (req: IncomingMessage, res: ServerResponse) => void, fastifyOptions: Record<string, unknown>): Server => {
    const opts = fastifyOptions as unknown as ServerTimeouts;
    const server = createServer((req, res) => {
      if (req.method === 'POST' && ISSUE_PATH.test(req.url!)) {
        const now = performance.now();
        if (!control.enter(now)) {
          countShed();
          const socket = req.socket as Refused;
          control.refuse(
            () => {
              writeShed(res);
              socket[REFUSED_AT] = performance.now();
            },
            now,
            socket[REFUSED_AT],
          );
          return;
        }
        (req as Entered)[ENTERED_AT] = now;
        // Taken in: whatever it was refused before, it is not coming back at once after a refusal now.
        (req.socket as Refused)[REFUSED_AT] = undefined;
        res.once('close', () => control.leave(performance.now()));
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
