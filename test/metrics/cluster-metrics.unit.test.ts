import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Registry } from 'prom-client';
import type { RegistryJson } from '../../src/metrics/api-metrics.ts';
import { ClusterMetrics, latestReconciliations, type ProcessSnapshot } from '../../src/metrics/cluster-metrics.ts';

/** One API process's snapshot: `requests` counted, `inFlight` now. */
async function processSnapshot(requests: number, inFlight: number): Promise<ProcessSnapshot> {
  const registry = new Registry();
  new Counter({ name: 'requests_total', help: 'h', registers: [registry] }).inc(requests);
  new Gauge({ name: 'in_flight', help: 'h', registers: [registry] }).set(inFlight);
  return [(await registry.getMetricsAsJSON()) as RegistryJson];
}

function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('ClusterMetrics', () => {
  it('sums what every process counted, and their gauges', async () => {
    const metrics = new ClusterMetrics();
    metrics.update(1, await processSnapshot(10, 3));
    metrics.update(2, await processSnapshot(5, 4));
    const body = await metrics.render();
    assert.equal(sample(body, 'requests_total'), 15);
    assert.equal(sample(body, 'in_flight'), 7);
  });

  it('keeps what a dead process counted, so no counter ever goes down, and drops its gauges', async () => {
    const metrics = new ClusterMetrics();
    metrics.update(1, await processSnapshot(10, 3));
    metrics.update(2, await processSnapshot(5, 4));
    await metrics.retire(1);
    let body = await metrics.render();
    assert.equal(sample(body, 'requests_total'), 15);
    assert.equal(sample(body, 'in_flight'), 4);
    // Its replacement counts from zero; the sum goes on from where it was.
    metrics.update(3, await processSnapshot(2, 1));
    body = await metrics.render();
    assert.equal(sample(body, 'requests_total'), 17);
    assert.equal(sample(body, 'in_flight'), 5);
  });

  it('ignores a snapshot that arrives after its process was retired', async () => {
    const metrics = new ClusterMetrics();
    metrics.update(1, await processSnapshot(10, 3));
    await metrics.retire(1);
    metrics.update(1, await processSnapshot(11, 3));
    assert.equal(sample(await metrics.render(), 'requests_total'), 10);
  });

  it('counts the restarts it is told of, from zero', async () => {
    const metrics = new ClusterMetrics();
    assert.equal(sample(await metrics.render(), 'child_process_restarts_total{role="api"}'), 0);
    metrics.restarts.inc({ role: 'api' });
    assert.equal(sample(await metrics.render(), 'child_process_restarts_total{role="api"}'), 1);
  });
});

describe('latestReconciliations', () => {
  async function reconciled(coupon: string, at: number, consistent: 0 | 1): Promise<ProcessSnapshot> {
    const registry = new Registry();
    new Gauge({ name: 'reconciliation_last_run_timestamp_seconds', help: 'h', labelNames: ['coupon_id'], registers: [registry] }).set(
      { coupon_id: coupon },
      at,
    );
    new Gauge({ name: 'reconciliation_consistent', help: 'h', labelNames: ['coupon_id'], registers: [registry] }).set(
      { coupon_id: coupon },
      consistent,
    );
    return [(await registry.getMetricsAsJSON()) as RegistryJson];
  }

  const consistentValues = (snapshot: ProcessSnapshot) =>
    snapshot
      .flat()
      .find((m) => m.name === 'reconciliation_consistent')!
      .values.map((v) => v.value);

  it("keeps of a coupon's results only the latest run's, whichever process served it", async () => {
    const [older, newer] = latestReconciliations([await reconciled('7', 100, 0), await reconciled('7', 200, 1)]);
    assert.deepEqual(consistentValues(older!), []);
    assert.deepEqual(consistentValues(newer!), [1]);
  });

  it('an old success does not hide a newer failure', async () => {
    const [older, newer] = latestReconciliations([await reconciled('7', 300, 1), await reconciled('7', 400, 0)]);
    assert.deepEqual(consistentValues(older!), []);
    assert.deepEqual(consistentValues(newer!), [0]);
  });

  it('leaves other coupons alone', async () => {
    const [a, b] = latestReconciliations([await reconciled('7', 100, 1), await reconciled('8', 50, 0)]);
    assert.deepEqual(consistentValues(a!), [1]);
    assert.deepEqual(consistentValues(b!), [0]);
  });
});
