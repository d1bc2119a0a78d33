import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kafka } from 'kafkajs';
import { IssuanceConsumer } from '../../src/issuance/consumer.ts';
import { createLogger } from '../../src/log.ts';
import { ConsumerMetrics } from '../../src/metrics/consumer-metrics.ts';
import { AdmissionScripts } from '../../src/store/scripts.ts';
import { createCoupon } from '../../src/catalog/coupons.ts';
import { createUsers } from '../../src/catalog/users.ts';
import type { Orm } from '../../src/store/database/orm.ts';
import { encodeEvent, newIssueEvent } from '../../src/store/issue-event.ts';
import type { Redis } from '../../src/store/redis.ts';
import { testConfig, testEnv } from '../support/env.ts';
import { eventually, run, type Proc } from '../support/processes.ts';
import { createTestTopics, openTestOrm, openTestRedis, testKafka } from '../support/services.ts';

/** The consumer process against the real broker and database: idempotence, dead letters, release. */
describe('issuance consumer', () => {
  const env = testEnv({ CONSUMER_METRICS_PORT: '0' });
  const config = testConfig(env);
  let orm: Orm;
  let redis: Redis;
  let kafka: Kafka;
  let consumer: Proc;

  before(async () => {
    await createTestTopics(config);
    orm = await openTestOrm(config);
    redis = await openTestRedis(config);
    kafka = testKafka(config);
    consumer = run('consumer.ts', env);
  });
  after(async () => {
    await consumer.stop();
    redis.disconnect();
    await orm.close();
  });

  async function send(messages: { key: string; value: string }[]): Promise<void> {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: config.kafka.topic, acks: -1, messages });
    await producer.disconnect();
  }

  const rows = async (couponId: number) =>
    (await orm.em
      .getConnection()
      .execute('select user_id, event_id from user_coupons where coupon_id = ? order by user_id', [couponId])) as {
      user_id: number;
      event_id: string;
    }[];
  const issuedCount = async (couponId: number) =>
    Number(
      ((await orm.em.getConnection().execute('select issued_count as n from coupons where id = ?', [couponId])) as { n: number }[])[0]!.n,
    );

  it('writes one row per (coupon, user) however often an event is delivered, and keeps issued_count true', async () => {
    const scripts = new AdmissionScripts(redis);
    const coupon = await createCoupon({ orm, redis, scripts }, { name: 'replay', totalQuantity: 10 });
    const users = await createUsers(orm, redis, ['a', 'b', 'c']);
    const events = users.map((u) => newIssueEvent(coupon.id, u.id, u.publicId));
    const messages = events.map((e) => ({ key: String(coupon.id), value: encodeEvent(e) }));
    await send([...messages, ...messages]);
    await send([messages[0]!]);
    // A second event for a user who already has a row (a reconciliation re-publish) adds nothing either.
    await send([{ key: String(coupon.id), value: encodeEvent(newIssueEvent(coupon.id, users[0]!.id, users[0]!.publicId)) }]);
    await eventually('three rows', async () => (await rows(coupon.id)).length === 3, 60_000);
    // Give a duplicate the chance to land if it were going to: a fourth batch behind them all.
    const marker = newIssueEvent(coupon.id, (await createUsers(orm, redis, ['d']))[0]!.id, users[0]!.publicId);
    await send([{ key: String(coupon.id), value: encodeEvent(marker) }]);
    await eventually('the marker row', async () => (await rows(coupon.id)).length === 4, 60_000);
    assert.deepEqual(
      (await rows(coupon.id)).slice(0, 3).map((r) => r.event_id),
      events.map((e) => e.eventId),
    );
    assert.equal(await issuedCount(coupon.id), 4);
  });

  it('sends poison to the dead-letter topic with the reason, and the rest still flows', async () => {
    const scripts = new AdmissionScripts(redis);
    const coupon = await createCoupon({ orm, redis, scripts }, { name: 'poison', totalQuantity: 10 });
    const [good] = await createUsers(orm, redis, ['good']);
    const dlq = kafka.consumer({ groupId: `${config.kafka.consumerGroup}-dlq-reader` });
    const dead: { value: string; reason: string }[] = [];
    await dlq.connect();
    await dlq.subscribe({ topic: config.kafka.deadLetterTopic, fromBeginning: true });
    await dlq.run({
      eachMessage: async ({ message }) => {
        dead.push({ value: message.value!.toString(), reason: message.headers!['x-dead-letter-reason']!.toString() });
      },
    });
    try {
      const ghost = newIssueEvent(coupon.id, 2_000_000_000, good!.publicId);
      await send([
        { key: String(coupon.id), value: 'this is not an event' },
        { key: String(coupon.id), value: encodeEvent(ghost) },
        { key: String(coupon.id), value: encodeEvent(newIssueEvent(coupon.id, good!.id, good!.publicId)) },
      ]);
      await eventually('the good row', async () => (await rows(coupon.id)).length === 1, 60_000);
      await eventually('two dead letters', async () => dead.length >= 2, 60_000);
      assert.ok(
        dead.some((d) => d.value === 'this is not an event' && /malformed/.test(d.reason)),
        JSON.stringify(dead),
      );
      assert.ok(
        dead.some((d) => d.value === encodeEvent(ghost) && /unknown user/.test(d.reason)),
        JSON.stringify(dead),
      );
    } finally {
      await dlq.disconnect();
    }
  });

  it('skips an event the API released, even if the send had landed', async () => {
    const scripts = new AdmissionScripts(redis);
    const coupon = await createCoupon({ orm, redis, scripts }, { name: 'released', totalQuantity: 5 });
    const [user, other] = await createUsers(orm, redis, ['u', 'v']);
    const released = newIssueEvent(coupon.id, user!.id, user!.publicId);
    const kept = newIssueEvent(coupon.id, other!.id, other!.publicId);
    await scripts.admit(
      coupon.id,
      [released, kept].map((e) => ({ userId: e.userId, eventId: e.eventId, eventJson: encodeEvent(e) })),
    );
    assert.equal(await scripts.release(coupon.id, released.eventId, user!.id), true);
    await send([released, kept].map((e) => ({ key: String(coupon.id), value: encodeEvent(e) })));
    await eventually('the kept row', async () => (await rows(coupon.id)).length === 1, 60_000);
    assert.deepEqual(
      (await rows(coupon.id)).map((r) => r.event_id),
      [kept.eventId],
    );
  });

  it('restarts its Kafka client mid-stream (what the stall watch does) and loses and duplicates nothing', async () => {
    const scripts = new AdmissionScripts(redis);
    // Its own topic and group: the consumer process above does not take these events.
    const topic = `${config.kafka.topic}.restart-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
    const coupons = await Promise.all(
      [0, 1, 2].map((i) => createCoupon({ orm, redis, scripts }, { name: `restart-${i}`, totalQuantity: 1_000 })),
    );
    const users = await createUsers(
      orm,
      redis,
      Array.from({ length: 300 }, (_, i) => `restart-${i}`),
    );
    const metrics = new ConsumerMetrics();
    const inProcess = new IssuanceConsumer({
      kafka,
      topic,
      deadLetterTopic: config.kafka.deadLetterTopic,
      groupId: `${topic}-group`,
      orm,
      scripts,
      metrics,
      logger: createLogger('warn', 'consumer-test', 'test'),
      stallMs: 0,
    });
    const producer = kafka.producer();
    await producer.connect();
    const sendSlice = (from: number, to: number) =>
      producer.send({
        topic,
        acks: -1,
        messages: users.slice(from, to).map((u, i) => {
          const coupon = coupons[(from + i) % 3]!;
          return { key: String(coupon.id), value: encodeEvent(newIssueEvent(coupon.id, u.id, u.publicId)) };
        }),
      });
    try {
      await inProcess.start();
      await sendSlice(0, 100);
      await eventually('the first rows', async () => (await rows(coupons[0]!.id)).length > 0, 60_000);
      await Promise.all([inProcess.restart('test'), sendSlice(100, 200)]);
      await sendSlice(200, 300);
      const total = async () => (await Promise.all(coupons.map((c) => rows(c.id)))).reduce((n, r) => n + r.length, 0);
      await eventually('every row', async () => (await total()) === 300, 60_000);
      for (const c of coupons) assert.equal(await issuedCount(c.id), 100);
      assert.match(await metrics.registry.metrics(), /consumer_restarts_total\{reason="test"\} 1/);
    } finally {
      await producer.disconnect();
      await inProcess.stop();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});
