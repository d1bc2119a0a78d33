import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { IssueEventProducer } from '../../src/issuance/producer.ts';
import { PARTITIONER } from '../../src/store/kafka.ts';
import { testConfig } from '../support/env.ts';
import { LossyProxy } from '../support/lossy-proxy.ts';
import { eventually } from '../support/processes.ts';
import { testKafka } from '../support/services.ts';

/** The producer against the real broker, with the acknowledgements lost on the way back. */
describe('issue event producer', () => {
  const config = testConfig();
  const topic = config.kafka.topic;
  let proxy: LossyProxy;
  let direct: Kafka;

  before(async () => {
    direct = testKafka(config);
    const admin = direct.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const [host, port] = config.kafka.brokers[0]!.split(':');
    proxy = await LossyProxy.start({ host: host!, port: Number(port) });
  });
  after(() => proxy.close());

  /** Every message in a topic, read straight from the broker (in order within each partition). */
  async function messagesInTopic(name: string): Promise<{ partition: number; key: string; value: string }[]> {
    const admin = direct.admin();
    await admin.connect();
    const total = (await admin.fetchTopicOffsets(name)).reduce((n, o) => n + Number(o.high), 0);
    await admin.disconnect();
    const messages: { partition: number; key: string; value: string }[] = [];
    const consumer = direct.consumer({ groupId: `${name}-reader-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic: name, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        messages.push({ partition, key: message.key?.toString() ?? '', value: message.value!.toString() });
      },
    });
    await eventually(`the topic's ${total} messages read`, async () => messages.length >= total, 60_000);
    await consumer.disconnect();
    return messages;
  }

  it('never lets a later message pass as a duplicate of one whose acknowledgement was lost', async () => {
    // Every connection, whatever broker address the metadata names, goes through the proxy.
    const kafka = new Kafka({
      clientId: 'test-lossy',
      brokers: [`127.0.0.1:${proxy.port}`],
      socketFactory: ({ onConnect }) => connect({ host: '127.0.0.1', port: proxy.port }, onConnect),
      // Short enough that giving up on the lost ack takes seconds, long enough for a busy CI machine.
      requestTimeout: 2_000,
      retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 200 },
      logLevel: logLevel.NOTHING,
    });
    const producer = new IssueEventProducer({ kafka, topic, sendTimeoutMs: 5_000, pauseAfterFailureMs: 500 });
    try {
      await producer.publish('1', 'first');

      // The broker appends this one; the producer never hears so and gives up on it.
      proxy.loseReplies();
      await assert.rejects(producer.publish('1', 'unacknowledged'));
      assert.equal(producer.available, false);

      proxy.deliverReplies();
      await eventually('the producer to trust the broker again', async () => producer.available, 30_000, 100);
      // The same size as the lost batch, so an idempotent producer that reused its sequence numbers
      // would have the broker take this for a retry of it: acknowledged, and never written.
      await producer.publish('1', 'after');

      const values = (await messagesInTopic(topic)).map((m) => m.value);
      assert.ok(values.includes('unacknowledged'), `the lost acknowledgement's message was appended (the case under test): ${values}`);
      assert.deepEqual(
        values.filter((v) => v !== 'unacknowledged'),
        ['first', 'after'],
      );
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  });

  it('sends what one turn of the event loop published in one request, even to an idle partition', async () => {
    const sends: { messages: number; ok: boolean }[] = [];
    const producer = new IssueEventProducer({
      kafka: direct,
      topic,
      observer: { sent: (_seconds, messages, ok) => sends.push({ messages, ok }) },
    });
    try {
      // Warm: the partition count known, a connection up, and nothing in flight.
      await producer.publish('7', 'warm');
      sends.length = 0;
      // As the admitter publishes a batch of admissions: one call per admission, all in one turn.
      await Promise.all(Array.from({ length: 50 }, (_, i) => producer.publish('7', `batch-${i}`)));
      assert.deepEqual(sends, [{ messages: 50, ok: true }]);
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  });

  it("sends the partitions one broker leads in one request, and each message lands on its key's partition", async () => {
    const lanesTopic = `${topic}-lanes`;
    const admin = direct.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: lanesTopic, numPartitions: 4, replicationFactor: 1 }], waitForLeaders: true });
    const sends: { messages: number; ok: boolean }[] = [];
    const producer = new IssueEventProducer({
      kafka: direct,
      topic: lanesTopic,
      observer: { sent: (_seconds, messages, ok) => sends.push({ messages, ok }) },
    });
    const keys = Array.from({ length: 8 }, (_, i) => String(i + 1));
    try {
      await Promise.all(keys.map((key) => producer.publish(key, `warm-${key}`)));
      sends.length = 0;
      // Eight coupons admitted in one turn, over the topic's four partitions, all led by the one broker.
      await Promise.all(keys.flatMap((key) => Array.from({ length: 5 }, (_, i) => producer.publish(key, `${key}-${i}`))));
      assert.deepEqual(sends, [{ messages: 40, ok: true }]);

      const offsets = await admin.fetchTopicOffsets(lanesTopic);
      assert.ok(offsets.filter((o) => Number(o.high) > 0).length >= 2, `the keys span partitions: ${JSON.stringify(offsets)}`);
      assert.equal(
        offsets.reduce((n, o) => n + Number(o.high), 0),
        48,
      );
      // Each key on the partition the producer's own partitioner gives it, as a send without one would.
      const byPartition = new Map<number, Set<string>>();
      for (const { partition, key } of await messagesInTopic(lanesTopic)) {
        byPartition.set(partition, (byPartition.get(partition) ?? new Set()).add(key));
      }
      const partitionOf = new Map([...byPartition].flatMap(([partition, ks]) => [...ks].map((k) => [k, partition] as const)));
      assert.equal(partitionOf.size, keys.length, `every key on one partition only: ${JSON.stringify([...byPartition])}`);
      const partitioner = PARTITIONER();
      const partitionMetadata = offsets.map((o) => ({ partitionId: o.partition, leader: 0, replicas: [], isr: [] })) as never;
      for (const key of keys) {
        assert.equal(
          partitionOf.get(key),
          partitioner({ topic: lanesTopic, partitionMetadata, message: { key, value: null } }),
          `key ${key}`,
        );
      }
    } finally {
      await producer.disconnect().catch(() => undefined);
      await admin.deleteTopics({ topics: [lanesTopic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});
