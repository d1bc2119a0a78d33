/**
 * `npm start`: the API with its shard workers on PORT — one process, or API_PROCESSES of them
 * under a cluster primary (api-cluster.ts) — and, unless START_CONSUMER=false, the consumer as a
 * child process, so a crash of one does not take the other down. Whatever dies is started again
 * with backoff; SIGTERM or SIGINT here stops everything gracefully.
 */
import { fork } from 'node:child_process';
import { createApi } from '../http/api.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { restartsCounter } from '../metrics/process-metrics.ts';
import { startApiCluster } from './api-cluster.ts';
import { Supervisor } from './supervisor.ts';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'api', config.env);
if (config.adminTokenIsDefault) {
  logger.warn('ADMIN_TOKEN is not set: using the development token "dev-admin-token"; never do this in production');
}

let api: { close(): Promise<void> };
let restarts: ReturnType<typeof restartsCounter>;
if (config.apiProcesses > 1) {
  const cluster = await startApiCluster(config, logger);
  api = cluster;
  restarts = cluster.metrics.restarts;
  logger.info({ port: config.port, processes: config.apiProcesses, shards: config.shards }, 'API listening');
} else {
  const single = await createApi(config, logger);
  await single.app.listen({ host: config.host, port: config.port, backlog: config.listenBacklog });
  api = single;
  restarts = restartsCounter(single.metrics.registry);
  logger.info({ port: config.port, shards: config.shards }, 'API listening');
}

// CONSUMERS of them, one by default, not one per API process: the group shares the partitions among
// whatever consumers run, and more than the cores on one machine would only contend for them. Each
// serves its metrics on its own port, the first on CONSUMER_METRICS_PORT and the next ones above it.
const consumers = config.startConsumer
  ? Array.from({ length: config.consumers }, (_, i) => {
      const metricsPort = config.consumerMetricsPort === 0 ? 0 : config.consumerMetricsPort + i;
      return new Supervisor({
        name: config.consumers === 1 ? 'consumer' : `consumer ${i + 1} of ${config.consumers}`,
        spawn: () =>
          fork(new URL('./consumer.ts', import.meta.url), {
            stdio: 'inherit',
            env: { ...process.env, CONSUMER_METRICS_PORT: String(metricsPort) },
          }),
        backoff: { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 },
        logger,
        onRestart: () => restarts.inc({ role: 'consumer' }),
      });
    })
  : [];
for (const consumer of consumers) consumer.start();

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
  await Promise.all([api.close(), ...consumers.map((consumer) => consumer.stop('SIGTERM'))]);
  logger.info('stopped');
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
