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
 *
 * REFUSE_AT=socket answers the same 503 below Node's HTTP machinery: on raw sockets, the answer's
 * bytes made once and written for every request head that comes in, nothing parsed but the end of
 * each head (the bench's requests have no body, and each fits in one read). No server can serve
 * like that, but no Node process can refuse for less: what is left is the kernel's read and write.
 */
import { createServer } from 'node:http';
import { createServer as createSocketServer } from 'node:net';
import { SHED_BODY, SHED_HEADERS } from '../src/overload/refusal.ts';

const PORT = Number(process.env.PORT ?? 18_095);

if (process.env.REFUSE_AT === 'socket') serveOnSockets();
else serveHttp();

function serveOnSockets(): void {
  const head = (status: string, headers: Record<string, string>) =>
    `HTTP/1.1 ${status}\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}connection: keep-alive\r\n\r\n`;
  const SHED = Buffer.from(head('503 Service Unavailable', SHED_HEADERS) + SHED_BODY);
  const OK = Buffer.from(`${head('200 OK', { 'content-length': '2' })}ok`);
  const END_OF_HEAD = Buffer.from('\r\n\r\n');
  createSocketServer({ noDelay: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      let heads = 0;
      for (let i = chunk.indexOf(END_OF_HEAD); i !== -1; i = chunk.indexOf(END_OF_HEAD, i + 4)) heads++;
      // A GET is the bench asking whether the server is up, or a load priming its connections.
      const answer = chunk[0] === 0x47 ? OK : SHED;
      if (heads > 0) socket.write(heads === 1 ? answer : Buffer.concat(Array<Buffer>(heads).fill(answer)));
    });
  }).listen({ host: '127.0.0.1', port: PORT, backlog: 4_096 }, () => console.log('listening'));
  process.once('SIGTERM', () => process.exit(0));
}

function serveHttp(): void {
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
  server.listen({ host: '127.0.0.1', port: PORT, backlog: 4_096 }, () => console.log('listening'));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}
