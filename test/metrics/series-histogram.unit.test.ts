import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { type HistogramJson, SeriesHistogram } from '../../src/metrics/series-histogram.ts';

const BOUNDS = [0.001, 0.01, 0.1, 1];
const OBSERVED: [Record<string, string>, number][] = [
  [{ route: '/a', status_code: '202' }, 0.0005],
  [{ route: '/a', status_code: '202' }, 0.001], // on a bound: counted in it, as prom-client does
  [{ route: '/a', status_code: '202' }, 0.05],
  [{ status_code: '409', route: '/a' }, 0.2], // labels in another order: another series all the same
  [{ route: '/b', status_code: '202' }, 7],
];

/** What a registry of one histogram renders, through the aggregation /metrics uses. */
async function rendered(
  fill: (histogram: Histogram<'route' | 'status_code'>, json: () => Promise<HistogramJson[]>) => Promise<HistogramJson[]>,
) {
  const registry = new Registry();
  const histogram = new Histogram({ name: 'd', help: 'h', labelNames: ['route', 'status_code'], buckets: BOUNDS, registers: [registry] });
  const json = await fill(histogram, async () => (await registry.getMetricsAsJSON()) as HistogramJson[]);
  return AggregatorRegistry.aggregate([json as Parameters<typeof AggregatorRegistry.aggregate>[0][number]]).metrics();
}

describe('SeriesHistogram', () => {
  it('renders exactly what prom-client renders for the same observations', async () => {
    const byPromClient = await rendered(async (histogram, json) => {
      for (const [labels, value] of OBSERVED) histogram.observe(labels, value);
      return json();
    });
    const bySeries = await rendered(async (_histogram, json) => {
      const series = new SeriesHistogram('d', BOUNDS);
      for (const [labels, value] of OBSERVED) series.series(labels).observe(value);
      const out = await json();
      series.writeInto(out[0]!);
      return out;
    });
    assert.match(byPromClient, /d_bucket\{le="0.001",route="\/a",status_code="202"\} 2/);
    assert.equal(bySeries, byPromClient);
  });

  it('writes nothing for a series that has no observation yet', async () => {
    const series = new SeriesHistogram('d', BOUNDS);
    series.series({ route: '/a' });
    const registry = new Registry();
    new Histogram({ name: 'd', help: 'h', labelNames: ['route'], buckets: BOUNDS, registers: [registry] });
    const [json] = (await registry.getMetricsAsJSON()) as HistogramJson[];
    series.writeInto(json!);
    assert.deepEqual(json!.values, []);
  });
});
