import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { Orm } from '../../src/store/database/orm.ts';
import type { Redis } from '../../src/store/redis.ts';
import { testConfig, testEnv } from '../support/env.ts';
import { type Answer, settleAndCheck, type StormContext, stormDuring } from '../support/fault-storm.ts';
import { childrenOf, eventually, isRunning, portIsFree, type Proc, startApi } from '../support/processes.ts';
import { createTestTopics, openTestOrm, openTestRedis } from '../support/services.ts';

const PORT = 18_400;
const CONSUMER_PORT = 18_465;

/**
 * `npm start` with two API processes and two consumers of one group, against the real services,
 * losing one process at a time to SIGKILL during a storm of issue requests: an API process (the
 * other keeps answering, a replacement comes), a consumer (the group rebalances to the survivor
 * and again when the restarted one joins, mid-storm, and every row still arrives once), and the
 * primary itself (everything it started goes with it, and the ports are free again).
 */
describe('npm start survives one dead process', { timeout: 900_000 }, () => {
  const env = testEnv({
    PORT: String(PORT),
    API_PROCESSES: '2',
    SHARDS: '1',
    START_CONSUMER: 'true',
    CONSUMERS: '2',
    CONSUMER_METRICS_PORT: String(CONSUMER_PORT),
  });
  const CONSUMER_PORTS = [CONSUMER_PORT, CONSUMER_PORT + 1];
  const config = testConfig(env);
  let orm: Orm;
  let redis: Redis;
  let api: Proc;

  before(async () => {
    await createTestTopics(config);
    orm = await openTestOrm(config);
    redis = await openTestRedis(config);
    api = await startApi(env);
    await eventually('two API processes serving', async () => (await metricsPids()).length === 2, 120_000, 250);
  });
  after(async () => {
    await api?.stop();
    redis?.disconnect();
    await orm?.close();
  });

  const target = (stock?: number, stormMs?: number): StormContext => ({
    orm,
    redis,
    env,
    port: PORT,
    stock,
    stormMs,
    userPrefix: 'start-f',
  });
  const children = (script: string) => childrenOf(api.child.pid!).filter((c) => c.command.includes(`src/cli/${script}`));

  async function scrape(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${PORT}/metrics`);
    assert.equal(res.status, 200);
    return res.text();
  }

  /** The API processes /metrics speaks for, by their api_process_info series. */
  async function metricsPids(): Promise<number[]> {
    return [...(await scrape()).matchAll(/^api_process_info\{pid="(\d+)"\} 1$/gm)].map((m) => Number(m[1]));
  }

  const restarts = async (role: string) =>
    Number(new RegExp(`^child_process_restarts_total\\{role="${role}"\\} (\\d+)`, 'm').exec(await scrape())?.[1]);

  const answered = (r: Answer) => r.status === 202 || r.status === 409;

  it('an API process killed with SIGKILL mid-storm: the other keeps answering, and a replacement takes its place', async () => {
    const workers = children('api-worker.ts');
    assert.equal(workers.length, 2, JSON.stringify(workers));
    assert.deepEqual((await metricsPids()).sort(), workers.map((w) => w.pid).sort(), '/metrics speaks for both processes');
    const victim = workers[0]!.pid;
    let replacedAt = 0;
    let replacement = 0;
    const storm = await stormDuring(
      // Less stock than users: sold out during the storm, so "never beyond the stock" is tested.
      target(1_500),
      async (strike) => {
        await strike();
        process.kill(victim, 'SIGKILL');
        const pids = await eventually(
          'a replacement API process in /metrics',
          async () => {
            const pids = await metricsPids();
            return pids.length === 2 && !pids.includes(victim) && pids;
          },
          180_000,
          100,
        );
        replacedAt = performance.now();
        replacement = pids.find((pid) => pid !== workers[1]!.pid)!;
      },
    );
    const { coupon, results, faultAt, recoveredAt } = storm;
    const figures = await settleAndCheck(target(), 'API process killed', coupon.id, results, faultAt, recoveredAt, {
      allowDropped: true,
    });

    const ok = results.filter(answered).length;
    assert.ok(ok >= 0.75 * results.length, `only ${ok} of ${results.length} requests got 202 or 409`);
    const whileOneDown = results.filter((r) => r.startedAt > faultAt && r.startedAt < replacedAt);
    const okWhileOneDown = whileOneDown.filter(answered).length;
    assert.ok(
      okWhileOneDown >= 0.75 * whileOneDown.length,
      `while one process was down, ${okWhileOneDown} of ${whileOneDown.length} requests got 202 or 409`,
    );
    assert.ok(!isRunning(victim), 'the killed process is gone');
    assert.deepEqual(
      children('api-worker.ts')
        .map((w) => w.pid)
        .sort(),
      [workers[1]!.pid, replacement].sort(),
    );
    assert.ok((await restarts('api')) >= 1, 'the restart is counted');

    const failed = results.filter((r) => !answered(r));
    const lastFailure = Math.max(faultAt, ...failed.map((r) => r.endedAt));
    console.log(
      'one of two API processes killed:',
      JSON.stringify({
        ...figures,
        refused503: failed.filter((r) => r.status === 503).length,
        connectionErrors: failed.filter((r) => r.status === 0).length,
        failuresFromKillMs: Math.round(lastFailure - faultAt),
        oneProcessDownMs: Math.round(replacedAt - faultAt),
        sentWhileOneDown: whileOneDown.length,
        answeredWhileOneDown: okWhileOneDown,
      }),
    );
  });

  it('a consumer killed with SIGKILL mid-storm: two rebalances, it is started again, and every 202 is one row', async () => {
    const [consumer, survivor] = children('consumer.ts');
    assert.ok(consumer && survivor, 'npm start runs two consumers');
    const restartsBefore = await restarts('consumer');
    // 10 s, so both rebalances (the survivor takes every partition, then shares them again) land in it.
    const storm = await stormDuring(target(undefined, 10_000), async (strike) => {
      await strike();
      process.kill(consumer.pid, 'SIGKILL');
      await eventually('a new consumer', async () => children('consumer.ts').some((c) => c.pid !== consumer.pid), 120_000, 100);
    });
    // The API was not touched: every request has an answer.
    await settleAndCheck(target(), 'consumer killed under npm start', storm.coupon.id, storm.results, storm.faultAt, storm.recoveredAt);
    assert.ok(!isRunning(consumer.pid));
    assert.equal(children('consumer.ts').length, 2, 'two consumers again, not three');
    assert.ok(isRunning(survivor.pid), 'the other consumer was not touched');
    assert.equal(await restarts('consumer'), restartsBefore + 1);
    for (const port of CONSUMER_PORTS) {
      await eventually(
        `a consumer on metrics port ${port}`,
        async () => (await fetch(`http://127.0.0.1:${port}/health/live`).catch(() => undefined))?.ok,
      );
    }
  });

  it('the primary killed with SIGKILL: its API processes and consumers exit, and free the ports', async () => {
    const started = childrenOf(api.child.pid!);
    assert.equal(started.filter((c) => /src\/cli\/(api-worker|consumer)\.ts/.test(c.command)).length, 4, JSON.stringify(started));
    await api.kill();
    await eventually('every process the primary started to exit', async () => started.every((c) => !isRunning(c.pid)), 60_000);
    await eventually('the API port to be free', () => portIsFree(PORT), 60_000);
    for (const port of CONSUMER_PORTS) await eventually(`consumer metrics port ${port} to be free`, () => portIsFree(port), 60_000);
  });

  it('npm start again on the same ports, then SIGTERM: every process drains and exits, the primary with 0', async () => {
    api = await startApi(env);
    await eventually('two API processes serving', async () => (await metricsPids()).length === 2, 120_000, 250);
    const started = childrenOf(api.child.pid!);
    assert.equal(started.length, 4, JSON.stringify(started));
    assert.equal(children('consumer.ts').length, 2, 'CONSUMERS=2: two consumers of one group');
    for (const port of CONSUMER_PORTS) {
      await eventually(
        `a consumer's metrics on ${port}`,
        async () => (await fetch(`http://127.0.0.1:${port}/health/live`).catch(() => undefined))?.ok,
      );
    }
    api.child.kill('SIGTERM');
    const [code, signal] = await once(api.child, 'exit');
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, api.output().slice(-3000));
    assert.ok(
      started.every((c) => !isRunning(c.pid)),
      'the primary waits for its children',
    );
    assert.ok(await portIsFree(PORT));
    assert.ok(await portIsFree(CONSUMER_PORT));
    assert.ok(await portIsFree(CONSUMER_PORT + 1));
  });
});
