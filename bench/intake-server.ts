/**
 * The floor under any shedding: a plain Node HTTP server that answers every request with the API's
 * shed answer (503 UNAVAILABLE, Retry-After) and does nothing else. `npm run bench:flood` floods it
 * on the API's core at the flood's rate: if even this misses the latency target, no shedding inside
 * the API can meet it on that machine at that moment, since reading and answering are all it does.
 *
 * REFUSE_AT=connection refuses below HTTP instead, as a server that cannot even read what comes in
 * might: the first issue request on each connection is answered 503 with `Connection: close`, and
 * from then on every new connection is closed as soon as it is accepted (Node's maxConnections,
 * before any JavaScript socket or HTTP parser exists for it), until a GET comes: the next load's
 * generator priming its connections, one at a time. `npm run bench:refusal` compares what
 * that costs per arrival with the 503 on a kept-alive connection.
 */
import { createServer } from 'node:http';
import { SHED_BODY, SHED_HEADERS } from '../src/overload/refusal.ts';

const atConnection = process.env.REFUSE_AT === 'connection';
const CLOSING = { ...SHED_HEADERS, connection: 'close' };

const server = createServer((req, res) => {
  // A GET tells the bench it is up, or that a load is about to dial its connections.
  if (req.method === 'GET') {
    if (atConnection) server.maxConnections = Number.POSITIVE_INFINITY;
    return void res.end('ok');
  }
  if (atConnection) {
    server.maxConnections = 1;
    res.writeHead(503, CLOSING);
  } else res.writeHead(503, SHED_HEADERS);
  res.end(SHED_BODY);
});
server.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 18_095), backlog: 4_096 }, () => console.log('listening'));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
