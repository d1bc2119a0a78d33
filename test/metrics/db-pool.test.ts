import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { poolUsage, type Orm } from '../../src/store/database/orm.ts';
import { registerDbPoolMetrics } from '../../src/metrics/db-pool.ts';
import { testConfig } from '../support/env.ts';
import { openTestOrm } from '../support/services.ts';

/** db_pool_connections against a real MikroORM (mysql2) pool on the local database. */
describe('db_pool_connections', () => {
  let orm: Orm;
  const registry = new Registry();

  before(async () => {
    orm = await openTestOrm(testConfig());
    registerDbPoolMetrics(registry, () => poolUsage(orm));
  });
  after(async () => {
    await orm?.close();
  });

  async function pool(): Promise<Record<string, number>> {
    const [metric] = await registry.getMetricsAsJSON();
    assert.equal(metric?.name, 'db_pool_connections');
    return Object.fromEntries(metric.values.map((v) => [String(v.labels.state), v.value]));
  }

  it('reports the pool limit, and the connections checked out', async () => {
    // openTestOrm's pool: at most 5 connections.
    assert.deepEqual(await pool(), { used: 0, max: 5 });
    const conn = orm.em.getConnection();
    let inside: Record<string, number> | undefined;
    await Promise.all([
      orm.em.fork().transactional(async (em) => {
        await em.getConnection().execute('select 1', [], 'all', em.getTransactionContext());
        await orm.em.fork().transactional(async (em2) => {
          await em2.getConnection().execute('select 1', [], 'all', em2.getTransactionContext());
          inside = await pool();
        });
      }),
      conn.execute('select sleep(0.05)'),
    ]);
    assert.ok(inside, 'read while two transactions held connections');
    assert.equal(inside.max, 5);
    const used = inside.used ?? -1;
    assert.ok(used >= 2 && used <= 5, `used ${used}`);
    assert.deepEqual(await pool(), { used: 0, max: 5 }, 'all returned to the pool');
  });

  it('renders as Prometheus text with bounded labels', async () => {
    const text = await registry.metrics();
    assert.match(text, /^db_pool_connections\{state="used"\} \d+$/m);
    assert.match(text, /^db_pool_connections\{state="max"\} 5$/m);
  });
});
