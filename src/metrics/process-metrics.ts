import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * What an API process says about itself, so the one /metrics of several processes (merged by
 * cluster-metrics.ts) still tells how many answered: api_process_info has one series per process,
 * and api_processes sums to their count. Call once per process.
 */
export function registerProcessInfo(registry: Registry): void {
  new Gauge({
    name: 'api_process_info',
    help: 'One series per API process serving, by its pid (always 1).',
    labelNames: ['pid'],
    registers: [registry],
  }).set({ pid: String(process.pid) }, 1);
  new Gauge({
    name: 'api_processes',
    help: 'API processes serving: each counts itself once, and merging sums them.',
    registers: [registry],
  }).set(1);
}

/** The roles of the processes `npm start` keeps running. */
export type SupervisedRole = 'api' | 'consumer';

/**
 * child_process_restarts_total{role}: children `npm start` replaced after they died, counted by
 * the process that supervises them (the cluster's primary, or the single API process).
 */
export function restartsCounter(registry: Registry): Counter<'role'> {
  const counter = new Counter({
    name: 'child_process_restarts_total',
    help: 'Processes npm start replaced after they exited on their own (api: an API process of the cluster; consumer: its child).',
    labelNames: ['role'],
    registers: [registry],
  });
  // From 0, so the first restart is an increase() rather than a series born at 1.
  for (const role of ['api', 'consumer'] satisfies SupervisedRole[]) counter.inc({ role }, 0);
  return counter;
}
