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

/** Why the intake refused an issue request: past the admission limit, or the event-loop backstop holds. */
export type IntakeShedReason = 'in_flight' | 'event_loop';

/** Set on a request the intake took in: when it arrived (performance.now() ms). */
export const ENTERED_AT = Symbol('enteredAt');
type Entered = IncomingMessage & { [ENTERED_AT]?: number };
/** Set on a connection when a refusal was last written on it: when (performance.now() ms) and for what path. */
const REFUSED = Symbol('refused');
type Refused = Socket & { [REFUSED]?: { at: number; url: string } };

/**
 * When this request's connection was last refused the same request (performance.now() ms), or
 * undefined: the refusal pacer holds only a client pressing again for the same user and coupon.
 * Another user's request on the same connection is new work arriving, as on a load balancer's
 * pooled connection to the API, and holding it would block everyone that pool carries.
 */
export function lastRefusalOfSame(socket: Socket, url: string): number | undefined {
  const refused = (socket as Refused)[REFUSED];
  return refused?.url === url ? refused.at : undefined;
}

/** Notes on the connection that `url` was refused on it just now. */
export function rememberRefusal(socket: Socket, url: string): void {
  (socket as Refused)[REFUSED] = { at: performance.now(), url };
}

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
 *
 * That includes the event-loop backstop's refusals (@fastify/under-pressure guards every other
 * route in Fastify's onRequest hook): while the loop is stuck, an issue request let through to
 * Fastify only to be refused there would cost what the backstop exists to save. In a flood at
 * twice capacity that is what happened: the limit, at its minimum, still let every arrival
 * through once the one before it had been answered, Fastify refused two of every three, and the
 * loop stayed stuck for the whole flood.
 */
export function intakeServer(control: OverloadControl, countShed: (reason: IntakeShedReason) => void) {
  return (handler: (req: IncomingMessage, res: ServerResponse) => void, fastifyOptions: Record<string, unknown>): Server => {
    const opts = fastifyOptions as unknown as ServerTimeouts;
    const server = createServer((req, res) => {
      if (req.method === 'POST' && ISSUE_PATH.test(req.url!)) {
        const now = performance.now();
        const shed: IntakeShedReason | undefined = control.stuck() ? 'event_loop' : control.enter(now) ? undefined : 'in_flight';
        if (shed !== undefined) {
          countShed(shed);
          const { socket } = req;
          const url = req.url!;
          control.refuse(
            () => {
              writeShed(res);
              rememberRefusal(socket, url);
            },
            now,
            lastRefusalOfSame(socket, url),
          );
          return;
        }
        (req as Entered)[ENTERED_AT] = now;
        // Taken in: whatever it was refused before, it is not coming back at once after a refusal now.
        (req.socket as Refused)[REFUSED] = undefined;
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
