/** A keep-alive HTTP client that times each request from when it got its connection. */
import { Agent, request as httpRequest } from 'node:http';

export interface Reply {
  status: number;
  /** From the request getting its connection to the last byte of the answer: server time plus one round trip, not client-side queueing. */
  latencyMs: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

/** A keep-alive client for firing many requests at the local API from a test. */
export class Client {
  readonly #agent: Agent;
  readonly #base: URL;

  constructor(baseUrl: string, maxSockets = 128) {
    this.#base = new URL(baseUrl);
    this.#agent = new Agent({ keepAlive: true, maxSockets });
  }

  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      let sentAt = performance.now();
      const req = httpRequest(
        {
          agent: this.#agent,
          host: this.#base.hostname,
          port: this.#base.port,
          method,
          path,
          headers:
            payload === undefined
              ? headers
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON: keep the text
            }
            resolve({ status: res.statusCode!, body: parsed, headers: res.headers, latencyMs: performance.now() - sentAt });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.on('socket', () => {
        sentAt = performance.now();
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
