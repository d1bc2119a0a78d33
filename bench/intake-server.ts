/**
 * The floor under any shedding: a plain Node HTTP server that answers every request with the API's
 * shed answer (503 UNAVAILABLE, Retry-After) and does nothing else. `npm run bench:flood` floods it
 * on the API's core at the flood's rate: if even this misses the latency target, no shedding inside
 * the API can meet it on that machine at that moment, since reading and answering are all it does.
 */
import { createServer } from 'node:http';
import { SHED_BODY, SHED_HEADERS } from '../src/overload/refusal.ts';

const server = createServer((req, res) => {
  // A GET tells the bench it is up.
  if (req.method === 'GET') return void res.end('ok');
  res.writeHead(503, SHED_HEADERS);
  res.end(SHED_BODY);
});
server.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 18_095), backlog: 4_096 }, () => console.log('listening'));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
