import { pino, type Logger } from 'pino';

export type { Logger };

/** One logger shape for every entry point; Fastify gets the same options for its own. */
export function loggerOptions(level: string, name: string) {
  return {
    level,
    name,
    // Secrets never reach the log, whatever object is logged.
    redact: { paths: ['req.headers.authorization', '*.password', '*.adminToken'], censor: '[redacted]' },
  };
}

export function createLogger(level: string, name: string): Logger {
  return pino(loggerOptions(level, name));
}
