import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { Partitioners, type Kafka } from 'kafkajs';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { createKafka } from '../../src/store/kafka.ts';
import { testConfig } from '../support/env.ts';
import { eventually } from '../support/processes.ts';
import { createTestTopics, testKafka } from '../support/services.ts';

describe('Kafka through kafkajs (real broker)', () => {
  const config = testConfig();
  let kafka: Kafka;

  before(async () => {
    kafka = testKafka(config);
    await createTestTopics(config);
  });

  it('has the application topics with 10 partitions and a dead-letter topic', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const defaults = loadConfig({});
      const { topics } = await admin.fetchTopicMetadata({ topics: [defaults.kafka.topic, defaults.kafka.deadLetterTopic] });
      assert.equal(topics.find((t) => t.name === defaults.kafka.topic)?.partitions.length, 10);
      assert.ok(topics.some((t) => t.name === defaults.kafka.deadLetterTopic));
    } finally {
      await admin.disconnect();
    }
  });

  it('produces idempotently and consumes through a consumer group, keys landing on a stable partition', async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const keys = ['1', '2', '3', '42', '1000'];
    const sent = keys.flatMap((key) => [0, 1, 2].map((n) => ({ key, value: `${key}:${n}` })));
    const metadata = await producer.send({ topic: config.kafka.topic, acks: -1, messages: sent });
    assert.ok(metadata.every((m) => m.errorCode === 0));
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: config.kafka.consumerGroup });
    const seen: { key: string; value: string; partition: number }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: config.kafka.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) seen.push({ key: m.key!.toString(), value: m.value!.toString(), partition: batch.partition });
        const last = batch.messages.at(-1);
        if (last)
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }]);
      },
    });
    try {
      await eventually('all messages consumed', async () => seen.length >= sent.length, 60_000);
      assert.equal(seen.length, sent.length);
      for (const key of keys) {
        const partitions = new Set(seen.filter((s) => s.key === key).map((s) => s.partition));
        assert.equal(partitions.size, 1, `key ${key} spread over ${[...partitions].join(',')}`);
        // Per key, order is kept.
        assert.deepEqual(
          seen.filter((s) => s.key === key).map((s) => s.value),
          [0, 1, 2].map((n) => `${key}:${n}`),
        );
      }
      assert.ok(new Set(seen.map((s) => s.partition)).size > 1, 'keys should spread over partitions');

      const admin = kafka.admin();
      await admin.connect();
      const offsets = await admin.fetchOffsets({ groupId: config.kafka.consumerGroup, topics: [config.kafka.topic] });
      await admin.disconnect();
      const committed = offsets[0]!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      assert.equal(committed, sent.length, 'the group committed every offset');
    } finally {
      await consumer.disconnect();
    }
  });

  it('does not spin on an idle connection (kafkajs re-checking its request queue every 1 ms), and still sends what queues', async () => {
    // kafkajs's own class (patches/kafkajs+2.2.4.patch fixes its schedule): the module instance it uses.
    const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as {
      prototype: { checkPendingRequests(): void };
    };
    const original = RequestQueue.prototype.checkPendingRequests;
    let checks = 0;
    RequestQueue.prototype.checkPendingRequests = function (this: unknown) {
      checks++;
      return original.call(this);
    };
    const producer = createKafka({ brokers: config.kafka.brokers, clientId: 'spin-test', logger: pino({ level: 'silent' }) }).producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    try {
      await producer.connect();
      // One request in flight at a time: these queue behind each other and are sent as each completes.
      const sends = Array.from({ length: 20 }, (_, i) =>
        producer.send({ topic: config.kafka.topic, acks: -1, messages: [{ key: String(i), value: 'spin' }] }),
      );
      const results = await Promise.all(sends);
      assert.ok(results.flat().every((m) => m.errorCode === 0));
      checks = 0;
      await new Promise((r) => setTimeout(r, 1_000));
      // Unpatched, each connection re-checks about a thousand times a second doing nothing.
      assert.ok(checks <= 5, `${checks} queue checks in a second on an idle producer`);
    } finally {
      RequestQueue.prototype.checkPendingRequests = original;
      await producer.disconnect();
    }
  });

  after(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [config.kafka.topic, config.kafka.deadLetterTopic] }).catch(() => undefined);
    await admin.disconnect();
  });
});
