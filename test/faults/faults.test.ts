import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FaultStack, type Service } from '../support/fault-stack.ts';
import { settleAndCheck, startStormApp, stopStormApp, stormDuring, type StormApp } from '../support/fault-storm.ts';
import { eventually, run, startApi, type Proc } from '../support/processes.ts';
import { testKafka } from '../support/services.ts';

const PORT = 18_200;

/**
 * Real processes stopped with real signals during a running storm, each ending with the
 * invariants: every 202 is exactly one row, no user twice, issued + remaining = total, and
 * reconciliation consistent. The services here are a private copy (FaultStack).
 */
describe('faults during a storm', { timeout: 900_000 }, () => {
  const stack = new FaultStack();
  let app: StormApp;

  before(async () => {
    await stack.startAll();
    app = await startStormApp(stack.appEnv, PORT);
  });

  after(async () => {
    await stopStormApp(app);
    await stack.stopAll();
  });

  /** A fault for stormDuring: takes a service away (a clean stop or a SIGKILL) and brings it back. */
  function outage(service: Service, how: 'stop' | 'kill', downMs: number) {
    return async (strike: () => Promise<void>) => {
      await strike();
      await stack[how](service);
      await new Promise((r) => setTimeout(r, downMs));
      await stack.start(service);
    };
  }

  it('Kafka broker killed (SIGKILL) and restarted', async () => {
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(app.ctx, outage('kafka', 'kill', 3_000));
    assert.ok(
      results.some((r) => r.status === 503),
      'the outage was seen as 503s',
    );
    await settleAndCheck(app.ctx, 'kafka killed', coupon.id, results, faultAt, recoveredAt);
  });

  it('a poison message in the topic goes to the dead-letter topic while the storm flows', async () => {
    const kafka = testKafka(app.config);
    const dlq = kafka.consumer({ groupId: `${app.config.kafka.consumerGroup}-dlq-${Date.now()}` });
    const dead: { value: string; reason: string }[] = [];
    await dlq.connect();
    await dlq.subscribe({ topic: app.config.kafka.deadLetterTopic, fromBeginning: true });
    await dlq.run({
      eachMessage: async ({ message }) => {
        dead.push({ value: message.value?.toString() ?? '', reason: message.headers?.['x-dead-letter-reason']?.toString() ?? '' });
      },
    });
    const poison = `poison ${Date.now()}: not an issue event`;
    try {
      const { coupon, results, faultAt, recoveredAt } = await stormDuring(app.ctx, async (strike) => {
        const producer = kafka.producer();
        await producer.connect();
        await strike();
        // On every partition, so it sits in front of whatever partition the storm's coupon uses.
        await producer.send({
          topic: app.config.kafka.topic,
          acks: -1,
          messages: Array.from({ length: app.config.kafka.partitions }, (_, partition) => ({ partition, value: poison })),
        });
        await producer.disconnect();
        await new Promise((r) => setTimeout(r, 1_500));
      });
      await eventually(
        'the poison in the dead-letter topic',
        async () => dead.filter((d) => d.value === poison).length === app.config.kafka.partitions,
        60_000,
      );
      assert.ok(
        dead.filter((d) => d.value === poison).every((d) => /malformed/.test(d.reason)),
        JSON.stringify(dead.slice(0, 3)),
      );
      await settleAndCheck(app.ctx, 'poison message', coupon.id, results, faultAt, recoveredAt);
    } finally {
      await dlq.disconnect();
    }
  });

  it('Redis restarted (AOF keeps every admission)', async () => {
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(app.ctx, outage('redis', 'stop', 2_000));
    await settleAndCheck(app.ctx, 'redis restarted', coupon.id, results, faultAt, recoveredAt);
  });

  it('Redis killed (SIGKILL) and restarted: what it acknowledged was in the AOF before the reply', async () => {
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(app.ctx, outage('redis', 'kill', 2_000));
    await settleAndCheck(app.ctx, 'redis killed', coupon.id, results, faultAt, recoveredAt);
  });

  it('MariaDB stopped while the consumer writes, then started', async () => {
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(app.ctx, outage('mariadb', 'stop', 4_000));
    await settleAndCheck(app.ctx, 'mariadb stopped', coupon.id, results, faultAt, recoveredAt);
  });

  it('consumer killed mid-batch (SIGKILL) and restarted', async () => {
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(app.ctx, async (strike) => {
      await strike();
      await app.consumers[0]!.kill();
      await new Promise((r) => setTimeout(r, 2_000));
      app.consumers[0] = run('consumer.ts', app.env);
    });
    await settleAndCheck(app.ctx, 'consumer killed', coupon.id, results, faultAt, recoveredAt);
  });

  it('API killed with SIGKILL and restarted', async () => {
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(app.ctx, async (strike) => {
      await strike();
      await app.api.kill();
      app.api = await startApi(app.env);
    });
    await settleAndCheck(app.ctx, 'api killed', coupon.id, results, faultAt, recoveredAt, { allowDropped: true });
  });

  it('API stopped with SIGTERM: in-flight requests finish, nothing promised is lost', async () => {
    let exit: { code: number | null; signal: string | null } | undefined;
    let stopped: Proc | undefined;
    const { coupon, results, faultAt, recoveredAt } = await stormDuring(app.ctx, async (strike) => {
      stopped = app.api;
      const exited = new Promise<typeof exit>((resolve) => stopped!.child.once('exit', (code, signal) => resolve({ code, signal })));
      await strike();
      stopped.child.kill('SIGTERM');
      exit = await exited;
      app.api = await startApi(app.env);
    });
    assert.deepEqual(exit, { code: 0, signal: null }, `a graceful shutdown exits 0 within its bound:\n${stopped?.output().slice(-3000)}`);
    await settleAndCheck(app.ctx, 'api sigterm', coupon.id, results, faultAt, recoveredAt, { allowDropped: true });
  });
});
