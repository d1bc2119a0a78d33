/**
 * `npm run reconcile [-- --coupon ID ...] [--grace-ms N] [--wait S] [--report-only]`: compares Redis
 * with the database per coupon, publishes again what a crash left unpersisted, and with --wait
 * keeps checking until the consumer has caught up. Exits 1 if a coupon is still inconsistent.
 */
import { AdmissionScripts } from '../store/scripts.ts';
import { loadConfig } from '../config.ts';
import { openOrm } from '../store/database/orm.ts';
import { IssueEventProducer } from '../issuance/producer.ts';
import { createKafka } from '../store/kafka.ts';
import { createLogger } from '../log.ts';
import { Reconciler, type ReconciliationReport } from '../reconcile/reconciler.ts';
import { connectRedis, createRedis } from '../store/redis.ts';
import { cliArgs, intFlag } from './args.ts';

const args = cliArgs({
  coupon: { type: 'string', multiple: true },
  'grace-ms': { type: 'string', default: '10000' },
  wait: { type: 'string', default: '0' },
  'report-only': { type: 'boolean', default: false },
});
const graceMs = intFlag(args['grace-ms'], 'grace-ms', 0, 86_400_000);
const waitSeconds = intFlag(args.wait, 'wait', 0, 3_600);

const config = loadConfig();
const logger = createLogger(config.logLevel, 'reconcile', config.env);
const orm = await openOrm({ databaseUrl: config.databaseUrl, poolMax: 2 });
const redis = createRedis({ url: config.redisUrl, clusterNodes: config.redisClusterNodes, name: 'reconcile', logger });
await connectRedis(redis);
const producer = new IssueEventProducer({
  kafka: createKafka({ brokers: config.kafka.brokers, clientId: `${config.kafka.clientId}-reconcile`, logger }),
  topic: config.kafka.topic,
});
const reconciler = new Reconciler({ orm, redis, scripts: new AdmissionScripts(redis), publish: (k, v) => producer.publish(k, v), logger });

const ids = args.coupon?.length ? args.coupon.map((id) => intFlag(id, 'coupon', 1, 2_147_483_647)) : await reconciler.couponIds();
let settle = !args['report-only'];
const deadline = Date.now() + waitSeconds * 1000;
let reports: ReconciliationReport[];
for (;;) {
  reports = [];
  for (const id of ids) {
    const report = await reconciler.reconcile(id, { graceMs, settle });
    if (report) reports.push(report);
    else console.error(`coupon ${id}: not found`);
  }
  // Publish once; afterwards only watch the consumer catch up.
  settle = false;
  if (reports.every((r) => r.consistent) || Date.now() >= deadline) break;
  await new Promise((r) => setTimeout(r, 500));
}

console.table(
  reports.map(({ couponId, total, admitted, remaining, pending, persisted, duplicates, overIssued, republished, consistent }) => ({
    couponId,
    total,
    admitted,
    remaining,
    pending,
    persisted,
    duplicates,
    overIssued,
    republished,
    consistent,
  })),
);
console.log(JSON.stringify(reports));

await producer.disconnect().catch(() => undefined);
redis.disconnect();
await orm.close();
process.exit(reports.every((r) => r.consistent) ? 0 : 1);
