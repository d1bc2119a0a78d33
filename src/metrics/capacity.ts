import { availableParallelism, totalmem } from 'node:os';
import { Gauge, type Registry } from 'prom-client';

/**
 * What this process may use, so the alerting rules can turn process_cpu_seconds_total and
 * process_resident_memory_bytes into utilisation (prometheus/rules/coupon-recording.yml) without a
 * node exporter. Both are read once: they do not change while the process runs.
 */
export function registerCapacityMetrics(registry: Registry): void {
  new Gauge({
    name: 'process_cpu_cores',
    help: 'CPU cores this process may use: os.availableParallelism() (CPU affinity and, on Linux, a cgroup CPU quota, rounded down).',
    // The API's processes share the machine (or the container): merged, they use these cores between them.
    aggregator: 'max',
    registers: [registry],
  }).set(availableParallelism());
  // constrainedMemory() is the cgroup limit, or a huge number (2^64) when there is none.
  const limit = process.constrainedMemory();
  const total = totalmem();
  new Gauge({
    name: 'process_memory_limit_bytes',
    help: "Memory this process may use: the container's (cgroup) limit when there is one, else the machine's total memory.",
    aggregator: 'max',
    registers: [registry],
  }).set(limit > 0 && limit < total ? limit : total);
}
