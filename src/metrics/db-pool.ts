import { Gauge, type Registry } from 'prom-client';

/** How busy a connection pool is: connections checked out, and its limit. */
export interface PoolUsage {
  used: number;
  max: number;
}

/**
 * db_pool_connections{state="used"|"max"}: connections checked out of the process's database pool,
 * and the pool's limit, as `usage` reads them at scrape time (undefined: no reading, no sample).
 * The alert on their ratio is in prometheus/rules/coupon-alerts.yml. Call once per process.
 */
export function registerDbPoolMetrics(registry: Registry, usage: () => Promise<PoolUsage | undefined>): void {
  new Gauge({
    name: 'db_pool_connections',
    help: 'Database pool connections by state: used (checked out) and max (the pool limit).',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const pool = await usage().catch(() => undefined);
      if (!pool) return;
      this.set({ state: 'used' }, pool.used);
      this.set({ state: 'max' }, pool.max);
    },
  });
}
