/** Clients of the real local services for tests and benchmarks: the ORM, Redis, Kafka and the run's own topics. */
import { Kafka, logLevel } from 'kafkajs';
import type { Config } from '../../src/config.ts';
import { migrate, openOrm, type Orm } from '../../src/store/database/orm.ts';
import { createLogger } from '../../src/log.ts';
import { connectRedis, createRedis, type Redis } from '../../src/store/redis.ts';
import { eventually } from './processes.ts';

/** Real clients of the real local services (started by `npm test` through infra/services.sh). */
export async function openTestOrm(config: Config): Promise<Orm> {
  const orm = await openOrm({ databaseUrl: config.databaseUrl, poolMax: 5 });
  await migrate(orm);
  return orm;
}

/** Brings the test database to the current schema, as `npm run migrate` does. */
export async function migrateTestDatabase(config: Config): Promise<void> {
  const orm = await openOrm({ databaseUrl: config.databaseUrl, poolMax: 1 });
  try {
    await migrate(orm);
  } finally {
    await orm.close();
  }
}

export async function openTestRedis(config: Config, name = 'test'): Promise<Redis> {
  // Quiet: the fault tests take Redis away on purpose.
  const redis = createRedis({ url: config.redisUrl, clusterNodes: config.redisClusterNodes, name, logger: createLogger('silent', name) });
  await connectRedis(redis);
  return redis;
}

export function testKafka(config: Config): Kafka {
  return new Kafka({ clientId: 'test', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
}

/** The run's own topic and dead-letter topic, as the local stack creates the real ones. */
export async function createTestTopics(config: Config): Promise<void> {
  const admin = testKafka(config).admin();
  await admin.connect();
  const { replicationFactor, minInsyncReplicas } = config.kafka;
  const configEntries = [{ name: 'min.insync.replicas', value: String(minInsyncReplicas) }];
  const topics = [
    { topic: config.kafka.topic, numPartitions: config.kafka.partitions, replicationFactor, configEntries },
    { topic: config.kafka.deadLetterTopic, numPartitions: 1, replicationFactor, configEntries },
  ];
  try {
    // A broker that has just started (the fault tests' own) can take longer to elect leaders for new
    // partitions than kafkajs's own wait allows: wait here, asking again, until every one has a leader.
    await eventually(
      'the test topics to have leaders',
      async () => {
        await admin.createTopics({ topics, waitForLeaders: false });
        const { topics: found } = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
        const partitions = new Map(found.map((t) => [t.name, t.partitions]));
        return topics.every(
          (t) => partitions.get(t.topic)?.length === t.numPartitions && partitions.get(t.topic)!.every((p) => p.leader >= 0),
        );
      },
      120_000,
      250,
    );
  } finally {
    await admin.disconnect();
  }
}
