/**
 * One API process of the cluster (api-cluster.ts forks it): the API with its own shard workers, on
 * PORT like its siblings. /metrics here is the whole API's, which the primary merges from every
 * process. When the primary dies, node:cluster ends this process at once (its IPC channel closed).
 */
import { loadConfig } from '../config.ts';
import { createApi } from '../http/api.ts';
import { createLogger } from '../log.ts';
import type { PrimaryMessage, WorkerMessage } from './api-cluster.ts';

/** The primary answers within its snapshot timeout; this is for a primary that cannot. */
const METRICS_TIMEOUT_MS = 5_000;

const config = loadConfig();
const logger = createLogger(config.logLevel, 'api', config.env);
const toPrimary = (message: WorkerMessage) => process.send?.(message);

const waiting = new Map<number, { resolve: (body: string) => void; reject: (err: Error) => void }>();
let nextId = 0;
const allProcessesMetrics = () =>
  new Promise<string>((resolve, reject) => {
    const id = nextId++;
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error('the cluster primary did not send the metrics'));
    }, METRICS_TIMEOUT_MS);
    waiting.set(id, {
      resolve: (body) => {
        clearTimeout(timer);
        resolve(body);
      },
      reject: (err) => {
        clearTimeout(timer);
        reject(err);
      },
    });
    toPrimary({ type: 'metrics', id });
  });

const api = await createApi(config, logger, { allProcessesMetrics });
process.on('message', (message: PrimaryMessage) => {
  if (message.type === 'snapshot') {
    api.metrics.snapshot().then(
      (snapshot) => toPrimary({ type: 'snapshot', id: message.id, snapshot }),
      (err: unknown) => logger.warn({ err }, 'metrics snapshot failed'),
    );
  } else if (message.type === 'metrics') {
    const request = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.body !== undefined) request?.resolve(message.body);
    else request?.reject(new Error(message.error ?? 'no metrics'));
  }
});

await api.app.listen({ host: config.host, port: config.port, backlog: config.listenBacklog });
logger.info({ port: config.port, shards: config.shards }, 'API process listening');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'API process shutting down');
  setTimeout(() => {
    logger.error('shutdown took too long; exiting');
    process.exit(1);
  }, 25_000).unref();
  await api.close();
  process.exit(0);
}
// The primary sends SIGTERM to stop it; a terminal's Ctrl-C reaches every process of the group.
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
