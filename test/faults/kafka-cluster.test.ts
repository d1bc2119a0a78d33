import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventKey } from '../../src/store/issue-event.ts';
import { settleAndCheck, startStormApp, stopStormApp, stormDuring, type StormApp } from '../support/fault-storm.ts';
import { KafkaClusterStack } from '../support/kafka-cluster-stack.ts';
import { eventually } from '../support/processes.ts';

const PORT = 18_310;

/**
 * The service on three Kafka brokers (replication factor 3, min.insync.replicas 2), the leader of a
 * storm coupon's partition SIGKILLed mid-storm while the storm's other coupons keep every partition
 * busy, so producer batches span the dead leader's partitions and the live ones' (where kafkajs
 * 2.2.4 was seen to acknowledge messages it never wrote). Redis and MariaDB are the shared ones.
 */
describe('on a three-broker Kafka cluster', { timeout: 600_000 }, () => {
  const cluster = new KafkaClusterStack();
  let app: StormApp;

  before(async () => {
    await cluster.startFresh();
    // Two consumers of one group: the partitions are shared between them, and move when a broker dies.
    app = await startStormApp(cluster.appEnv, PORT, {
      consumers: 2,
      env: { CONSUMER_STALL_MS: '10000' },
      storm: { userPrefix: 'kafka3-f', coupons: 12, stormMs: 20_000 },
    });
  });

  after(async () => {
    await stopStormApp(app);
    await cluster.stop();
  });

  it('the broker coordinating the consumer group, a partition leader, SIGKILLed mid-storm: no acknowledged event is missing, nothing twice', async () => {
    const { topic, partitions, consumerGroup } = app.config.kafka;
    let killed = 0;
    let moved = 0;
    let ledByKilled: number[] = [];
    const { coupons, results, faultAt, recoveredAt } = await stormDuring(app.ctx, async (strike) => {
      // The worst single broker to lose: the consumers commit through it, and producer batches
      // span its partitions and the live ones' (where kafkajs 2.2.4 was seen to acknowledge
      // messages it never wrote). Both consumers once stalled for minutes here, committing to it.
      killed = await cluster.coordinatorOf(consumerGroup);
      const leaders = await Promise.all(Array.from({ length: partitions }, (_, p) => cluster.leaderOf(topic, p)));
      ledByKilled = leaders.flatMap((leader, p) => (leader === killed ? [p] : []));
      await strike();
      await cluster.kill(killed);
      moved = await eventually(
        'the partitions to have a new leader',
        async () => {
          const now = await Promise.all(ledByKilled.map((p) => cluster.leaderOf(topic, p).catch(() => -1)));
          return now.every((leader) => leader > 0 && leader !== killed) ? now[0] : undefined;
        },
        60_000,
        100,
      );
      // The killed broker stays down through the storm: two in-sync replicas still take acks=all.
    });
    assert.ok(ledByKilled.length > 0, `broker ${killed} led no partition of the topic`);
    assert.notEqual(moved, killed);
    // Left down while the rows are counted: the consumers must drain on the two brokers left.
    const spread = new Set(coupons.map((c) => cluster.partitionOf(topic, partitions, eventKey(c.id))));
    assert.ok(spread.size >= 3, `the storm's coupons span ${spread.size} partitions`);
    // Every coupon's rows checked; the storm's figures printed once.
    try {
      for (const [i, c] of coupons.entries()) {
        const name = `kafka coordinator ${killed} (leading partitions ${ledByKilled.join(',')}) killed, ${moved} leads, ${coupons.length} coupons`;
        await settleAndCheck(app.ctx, name, c.id, results, faultAt, recoveredAt, { print: i === 0 });
      }
    } catch (err) {
      // What the consumers said is what tells a stall's cause (it has been kafkajs's state before).
      const logs = app.consumers.map((c, i) => `consumer ${i} (pid ${c.child.pid}), last of its log:\n${c.output().slice(-4_000)}`);
      throw new Error(`${(err as Error).message}\n${logs.join('\n')}`, { cause: err });
    }
    const count = (re: RegExp) => app.consumers.map((c) => (c.output().match(re) ?? []).length).join(', ');
    console.log(
      `consumer clients replaced: by the stall watch ${count(/restarting the Kafka consumer/g)}; after a failed commit ${count(/replacing the Kafka client/g)}`,
    );
    assert.ok(
      results.some((r) => r.status === 202),
      'the storm was served',
    );
  });
});
