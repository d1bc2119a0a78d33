/**
 * `npm run consumer`: reads issue events and writes them to the database; serves its own
 * /metrics on CONSUMER_METRICS_PORT (0: a free port, logged). Forked by `npm start`, it stops when
 * its parent is gone, however the parent died.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdmissionScripts } from '../store/scripts.ts';
import { loadConfig } from '../config.ts';
import { openOrm, poolUsage } from '../store/database/orm.ts';
import { IssuanceConsumer } from '../issuance/consumer.ts';
import { createKafka } from '../store/kafka.ts';
import { createLogger } from '../log.ts';
import { ConsumerMetrics } from '../metrics/consumer-metrics.ts';
import { registerDbPoolMetrics } from '../metrics/db-pool.ts';
import { connectRedis, createRedis } from '../store/redis.ts';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'consumer', config.env);

// Until there is something to stop gracefully, stopping is exiting.
let stop: (reason: string) => void = (reason) => {
  logger.info({ reason }, 'consumer stopping before it started');
  process.exit(0);
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
// Forked by `npm start` (an IPC channel): the channel closes when the parent exits, even by SIGKILL,
// which no signal here would tell. An orphan would keep consuming unsupervised and hold its metrics
// port, so a restarted `npm start` could not bind it.
if (process.send !== undefined) {
  if (!process.connected) stop('parent gone');
  process.once('disconnect', () => stop('parent gone'));
}

const metrics = new ConsumerMetrics();
const orm = await openOrm({ databaseUrl: config.databaseUrl, poolMax: 5 });
registerDbPoolMetrics(metrics.registry, () => poolUsage(orm));
const redis = createRedis({ url: config.redisUrl, clusterNodes: config.redisClusterNodes, name: 'consumer', logger });
await connectRedis(redis);

const consumer = new IssuanceConsumer({
  kafka: createKafka({ brokers: config.kafka.brokers, clientId: `${config.kafka.clientId}-consumer`, logger }),
  topic: config.kafka.topic,
  deadLetterTopic: config.kafka.deadLetterTopic,
  groupId: config.kafka.consumerGroup,
  orm,
  scripts: new AdmissionScripts(redis),
  metrics,
  logger,
  stallMs: config.consumerStallMs,
});

const server = createServer((req, res) => {
  if (req.url === '/metrics') {
    metrics.registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(body);
      },
      () => res.writeHead(500).end(),
    );
    return;
  }
  res.writeHead(req.url === '/health/live' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(req.url === '/health/live' ? '{"status":"ok"}' : '{"code":"NOT_FOUND","message":"Not found"}');
});
let stopping = false;
async function shutdown(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ reason }, 'consumer shutting down');
  setTimeout(() => process.exit(1), 20_000).unref();
  await consumer.stop();
  logger.info('consumer left the group; offsets committed');
  server.close();
  redis.disconnect();
  await orm.close();
  process.exit(0);
}
stop = (reason) => void shutdown(reason);

server.listen(config.consumerMetricsPort, config.host);
try {
  await once(server, 'listening');
} catch (err) {
  const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
  logger.fatal(
    { err, port: config.consumerMetricsPort },
    inUse ? 'CONSUMER_METRICS_PORT is taken (another consumer?); CONSUMER_METRICS_PORT=0 picks a free one' : 'metrics server failed',
  );
  process.exit(1);
}
logger.info({ port: (server.address() as AddressInfo).port }, 'consumer metrics listening');

// Kafka may still be starting (or down): keep trying rather than exit, like the API does.
for (let attempt = 1; !stopping; attempt++) {
  try {
    await consumer.start();
    logger.info({ topic: config.kafka.topic, group: config.kafka.consumerGroup }, 'consumer running');
    break;
  } catch (err) {
    if (stopping) break;
    logger.warn({ err, attempt }, 'consumer could not start yet; retrying');
    await consumer.stop().catch(() => undefined);
    await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * attempt)));
  }
}
