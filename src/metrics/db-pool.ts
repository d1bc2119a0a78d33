import { Gauge, type Registry } from 'prom-client';
import type { Orm } from '../store/database/orm.ts';

/** The parts of mysql2's callback Pool that say how busy it is (not in its typings). */
interface PoolInternals {
  _allConnections?: { length: number };
  _freeConnections?: { length: number };
  config?: { connectionLimit?: number };
}

/**
 * db_pool_connections{state="used"|"max"}: connections checked out of the process's MikroORM
 * (mysql2) pool, and the pool's limit. Read at scrape time; the alert on their ratio is in
 * prometheus/rules/coupon-alerts.yml. Call once per process with its ORM and its metrics registry.
 */
export function registerDbPoolMetrics(registry: Registry, orm: Orm): void {
  const connection = orm.em.getConnection();
  new Gauge({
    name: 'db_pool_connections',
    help: 'Database pool connections by state: used (checked out) and max (the pool limit).',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      let pool: PoolInternals;
      try {
        pool = (await connection.getNativeClient()) as unknown as PoolInternals;
      } catch {
        return;
      }
      const all = pool._allConnections?.length ?? 0;
      const free = pool._freeConnections?.length ?? 0;
      this.set({ state: 'used' }, Math.max(0, all - free));
      this.set({ state: 'max' }, pool.config?.connectionLimit ?? 0);
    },
  });
}
