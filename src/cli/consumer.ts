/**
 * `npm run consumer`: reads issue events and writes them to the database; serves its own
 * /metrics on CONSUMER_METRICS_PORT.
 */
import { createServer } from 'node:http';
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
server.listen(config.consumerMetricsPort, config.host);

// Kafka may still be starting (or down): keep trying rather than exit, like the API does.
for (let attempt = 1; ; attempt++) {
  try {
    await consumer.start();
    break;
  } catch (err) {
    logger.warn({ err, attempt }, 'consumer could not start yet; retrying');
    await consumer.stop().catch(() => undefined);
    await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * attempt)));
  }
}
logger.info({ topic: config.kafka.topic, group: config.kafka.consumerGroup }, 'consumer running');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'consumer shutting down');
  setTimeout(() => process.exit(1), 20_000).unref();
  await consumer.stop();
  logger.info('consumer left the group; offsets committed');
  server.close();
  redis.disconnect();
  await orm.close();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
