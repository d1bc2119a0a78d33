import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * The OpenAPI document built from the routes' own schemas, and its UI at /docs. Not encapsulated:
 * the document collects the routes through an onRoute hook, which sees only routes registered in
 * its own context and below.
 */
export const swagger = fp(
  async (app: FastifyInstance) => {
    await app.register(fastifySwagger, {
      openapi: {
        info: {
          title: 'FCFS coupon issuance',
          version: '1.0.0',
          description: 'First-come-first-served coupons: exactly the stock, never twice to one user.',
        },
        components: {
          securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } },
        },
      },
    });
    await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  },
  { name: 'swagger' },
);
