/**
 * `npm start`: the API with its shard workers on PORT, and (unless START_CONSUMER=false) the
 * consumer as a child process, so a crash of one does not take the other down.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createApi } from '../http/api.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'api', config.env);
if (config.adminTokenIsDefault) {
  logger.warn('ADMIN_TOKEN is not set: using the development token "dev-admin-token"; never do this in production');
}

const api = await createApi(config, logger);
await api.app.listen({ host: config.host, port: config.port, backlog: config.listenBacklog });
logger.info({ port: config.port, shards: config.shards }, 'API listening');

let consumer: ChildProcess | undefined;
if (config.startConsumer) {
  consumer = fork(new URL('./consumer.ts', import.meta.url), { stdio: 'inherit' });
  consumer.on('exit', (code, signal) => {
    if (!stopping) logger.error({ code, signal }, 'consumer exited; run `npm run consumer` or restart the API');
  });
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const timer = setTimeout(() => {
    logger.error('shutdown took too long; exiting');
    process.exit(1);
  }, 25_000);
  timer.unref();
  const consumerDone =
    consumer && consumer.exitCode === null ? new Promise((resolve) => consumer!.once('exit', resolve)) : Promise.resolve();
  consumer?.kill('SIGTERM');
  await api.close();
  await consumerDone;
  logger.info('stopped');
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
