import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

/**
 * Fastify's per-request child logger (`childLoggerFactory`), made only when the request logs.
 * Fastify asks for one on every request to bind its reqId, and pino serialises the bindings at once
 * (about a microsecond with redaction: more than a sold-out answer's metrics); this API logs a
 * request only when something goes wrong. One object per request, its methods on the prototype.
 */
export function lazyChildLogger(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChild(parent, bindings, options);
}

class LazyChild {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  #real(): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options);
    return this.#child;
  }

  fatal(...args: Parameters<FastifyBaseLogger['fatal']>) {
    this.#real().fatal(...args);
  }
  error(...args: Parameters<FastifyBaseLogger['error']>) {
    this.#real().error(...args);
  }
  warn(...args: Parameters<FastifyBaseLogger['warn']>) {
    this.#real().warn(...args);
  }
  info(...args: Parameters<FastifyBaseLogger['info']>) {
    this.#real().info(...args);
  }
  debug(...args: Parameters<FastifyBaseLogger['debug']>) {
    this.#real().debug(...args);
  }
  trace(...args: Parameters<FastifyBaseLogger['trace']>) {
    this.#real().trace(...args);
  }
  silent() {}
  child(...args: Parameters<FastifyBaseLogger['child']>) {
    return this.#real().child(...args);
  }
  get level() {
    return this.#real().level;
  }
  set level(level: string) {
    this.#real().level = level;
  }
}
