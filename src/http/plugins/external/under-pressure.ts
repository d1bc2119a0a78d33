import fastifyUnderPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface UnderPressureOptions {
  /** The mean event-loop delay (ms) past which requests are shed; 0: off. */
  maxEventLoopDelayMs: number;
  /** The body a shed request gets (the same as every other shed answer). */
  body: object;
  /** Told of each request shed here. */
  onShed: () => void;
}

/**
 * The event-loop backstop: while the mean delay over a quarter second is past the limit, requests
 * get a fast 503 with Retry-After (routes opt out with `config: { pressureHandler }`). Not
 * encapsulated: its onRequest hook must guard every route.
 */
export const underPressure = fp(
  async (app: FastifyInstance, { maxEventLoopDelayMs, body, onShed }: UnderPressureOptions) => {
    if (maxEventLoopDelayMs <= 0) return;
    await app.register(fastifyUnderPressure, {
      maxEventLoopDelay: maxEventLoopDelayMs,
      // The mean delay over a quarter second: a flood is noticed within it, not a second later.
      sampleInterval: 250,
      retryAfter: 1,
      pressureHandler: (_request, reply) => {
        onShed();
        reply.code(503).header('retry-after', '1');
        // under-pressure sends a non-null return value as the body (its typings say void).
        // biome-ignore lint/suspicious/noConfusingVoidType: under-pressure sends a returned value as the body; its typings say void.
        return body as unknown as void;
      },
    });
  },
  { name: 'under-pressure' },
);
