import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { histogramTotals, meanBetween } from '../../bench/metrics-text.ts';

/** What prom-client writes, read back: the benchmarks read the API's /metrics this way. */
describe('bench/metrics-text', () => {
  const registry = new Registry();
  const latency = new Histogram({
    name: 'step_duration_seconds',
    help: 'x',
    labelNames: ['step', 'shard'],
    registers: [registry],
  });
  const other = new Histogram({ name: 'step_duration_seconds_extra', help: 'x', registers: [registry] });

  it('adds the series whose labels match, and only those of the named histogram', async () => {
    latency.observe({ step: 'redis', shard: '0' }, 0.002);
    latency.observe({ step: 'redis', shard: '1' }, 0.004);
    latency.observe({ step: 'kafka', shard: '0' }, 0.5);
    other.observe(9);
    const text = await registry.metrics();
    const redis = histogramTotals(text, 'step_duration_seconds', { step: 'redis' });
    assert.equal(redis.count, 2);
    assert.ok(Math.abs(redis.sum - 0.006) < 1e-12);
    const all = histogramTotals(text, 'step_duration_seconds');
    assert.equal(all.count, 3);
    assert.equal(histogramTotals(text, 'step_duration_seconds', { step: 'none' }).count, 0);
  });

  it('gives the mean of what was observed between two scrapes', async () => {
    const before = await registry.metrics();
    latency.observe({ step: 'kafka', shard: '1' }, 0.1);
    latency.observe({ step: 'kafka', shard: '0' }, 0.3);
    const after = await registry.metrics();
    const mean = meanBetween(before, after, 'step_duration_seconds', { step: 'kafka' });
    assert.ok(mean !== null && Math.abs(mean - 0.2) < 1e-12);
    assert.equal(meanBetween(after, after, 'step_duration_seconds'), null);
  });
});
