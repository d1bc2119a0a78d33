import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.ts';

export type { Logger };

/**
 * One logger shape for every entry point; Fastify gets the same options for its own (it takes the
 * stream from them). `env` decides the format: see prettyStream.
 */
export function loggerOptions(level: string, name: string, env: Config['env'] = 'production') {
  const stream = prettyStream(env);
  return {
    level,
    name,
    // Secrets never reach the log, whatever object is logged.
    redact: { paths: ['req.headers.authorization', '*.password', '*.adminToken'], censor: '[redacted]' },
    ...(stream ? { stream } : {}),
  };
}

export function createLogger(level: string, name: string, env: Config['env'] = 'production'): Logger {
  const { stream, ...options } = loggerOptions(level, name, env);
  return pino(options, stream);
}

/**
 * Readable lines for a developer at a terminal; JSON for everything else (production, tests, a
 * file or a pipe, a log collector). File descriptor 1 is the process's, so a shard worker thread
 * and the consumer child see the same terminal as the API and choose the same format. pino-pretty
 * is a development dependency, left out of the production image, where NODE_ENV=production never
 * asks for it; anywhere it is missing the logs stay JSON. Synchronous, like pino's own default
 * destination, so the last lines before an exit are not lost.
 */
function prettyStream(env: Config['env']): DestinationStream | undefined {
  if (env !== 'development' || !isatty(1)) return undefined;
  let pretty: typeof import('pino-pretty');
  try {
    pretty = createRequire(import.meta.url)('pino-pretty');
  } catch {
    return undefined;
  }
  return pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
}
