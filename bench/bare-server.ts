/**
 * The ceiling of `npm run bench`: a bare Fastify route, on the same Node and the same path shape
 * as the issue route, answering 202 with a small JSON body and doing nothing else.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
let n = 0;
app.post('/api/coupons/:couponId/issue-fcfs/:publicId', async (_request, reply) =>
  reply.code(202).send({ status: 'ACCEPTED', requestId: String(++n) }),
);
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 18_094) });
console.log('listening');
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
