import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real server that can lose the server's replies: every request still
 * reaches the server (and takes effect there), but the client never hears back. This is the one
 * failure that leaves a sender unsure whether its message landed, as a broker dying after it
 * appended a batch or a network dropping the acknowledgement would.
 */
export class LossyProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  #losingReplies = false;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(target: { host: string; port: number }): Promise<LossyProxy> {
    const server = createServer();
    const proxy = new LossyProxy(server);
    server.on('connection', (client) => {
      const upstream = connect(target);
      const pair: [Socket, Socket] = [client, upstream];
      proxy.#pairs.add(pair);
      client.on('data', (chunk) => upstream.write(chunk));
      upstream.on('data', (chunk) => {
        if (!proxy.#losingReplies) client.write(chunk);
      });
      const close = () => {
        proxy.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  #cutAll(): void {
    // Destroying the client side closes the pair (see the close handlers in start).
    for (const [client] of this.#pairs) client.destroy();
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  loseReplies(): void {
    this.#losingReplies = true;
  }

  /**
   * Delivers replies again. Connections that lost some are cut, since their framing is broken;
   * clients reconnect.
   */
  deliverReplies(): void {
    this.#losingReplies = false;
    this.#cutAll();
  }

  async close(): Promise<void> {
    this.#cutAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
