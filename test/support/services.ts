import { Kafka, logLevel } from 'kafkajs';
import type { Config } from '../../src/config.ts';
import { openOrm, updateSchema, type Orm } from '../../src/db/orm.ts';
import { connectRedis, createRedis, type Redis } from '../../src/redis.ts';

/** Real clients of the real local services (started by `npm test` through infra/services.sh). */
export async function openTestOrm(config: Config): Promise<Orm> {
  const orm = await openOrm({ databaseUrl: config.databaseUrl, poolMax: 5 });
  await updateSchema(orm);
  return orm;
}

export async function openTestRedis(config: Config, name = 'test'): Promise<Redis> {
  const redis = createRedis({ url: config.redisUrl, name });
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
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: config.kafka.topic, numPartitions: config.kafka.partitions, replicationFactor: 1 },
        { topic: config.kafka.deadLetterTopic, numPartitions: 1, replicationFactor: 1 },
      ],
    });
  } finally {
    await admin.disconnect();
  }
}
