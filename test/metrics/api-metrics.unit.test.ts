import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiMetrics } from '../../src/metrics/api-metrics.ts';

const ROUTE = '/api/coupons/:couponId/issue-fcfs/:publicId';
const LABELS = `route="${ROUTE}",method="POST",status_code="503"`;

function metrics(): ApiMetrics {
  return new ApiMetrics({
    queueDepths: () => [],
    workerMetrics: async () => [],
    overload: () => ({ inFlight: 0, limit: 0, throughput: 0, refusalsHolding: 0, refusalsHeld: 0 }),
  });
}

function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('ApiMetrics', () => {
  it('renders requests counted as instant as zero-second observations of their series', async () => {
    const m = metrics();
    const shed = m.instantRequests({ route: ROUTE, method: 'POST', status_code: '503' });
    shed();
    shed();
    shed();
    const { body } = await m.render();
    assert.equal(sample(body, `http_request_duration_seconds_count{${LABELS}}`), 3);
    assert.equal(sample(body, `http_request_duration_seconds_sum{${LABELS}}`), 0);
    assert.equal(sample(body, `http_request_duration_seconds_bucket{le="0.001",${LABELS}}`), 3);
    assert.equal(sample(body, `http_request_duration_seconds_bucket{le="+Inf",${LABELS}}`), 3);
  });

  it('adds instant requests to the observed ones of the same series, in every cumulative bucket', async () => {
    const m = metrics();
    const shed = m.instantRequests({ route: ROUTE, method: 'POST', status_code: '503' });
    m.observeRequest(ROUTE, 'POST', 503, 0.3);
    m.observeRequest(ROUTE, 'POST', 202, 0.002);
    shed();
    shed();
    const { body } = await m.render();
    assert.equal(sample(body, `http_request_duration_seconds_count{${LABELS}}`), 3);
    assert.equal(sample(body, `http_request_duration_seconds_sum{${LABELS}}`), 0.3);
    assert.equal(sample(body, `http_request_duration_seconds_bucket{le="0.25",${LABELS}}`), 2);
    assert.equal(sample(body, `http_request_duration_seconds_bucket{le="0.5",${LABELS}}`), 3);
    // Other series are left alone.
    assert.equal(sample(body, `http_request_duration_seconds_count{route="${ROUTE}",method="POST",status_code="202"}`), 1);
    // Rendering again neither loses nor doubles them.
    const again = await m.render();
    assert.equal(sample(again.body, `http_request_duration_seconds_count{${LABELS}}`), 3);
  });

  it('renders the queue waits of the issue requests', async () => {
    const m = metrics();
    m.observeQueueWaits([0.5, 30]);
    const { body } = await m.render();
    assert.equal(sample(body, 'issue_queue_wait_seconds_count'), 2);
    assert.equal(sample(body, 'issue_queue_wait_seconds_sum'), 0.0305);
    assert.equal(sample(body, 'issue_queue_wait_seconds_bucket{le="0.001"}'), 1);
    assert.equal(sample(body, 'issue_queue_wait_seconds_bucket{le="0.05"}'), 2);
  });

  it('counts in-flight sheds into http_requests_shed_total once each, however often it is scraped', async () => {
    const m = metrics();
    m.countInFlightShed();
    m.countInFlightShed();
    assert.equal(sample((await m.render()).body, 'http_requests_shed_total{reason="in_flight"}'), 2);
    assert.equal(sample((await m.render()).body, 'http_requests_shed_total{reason="in_flight"}'), 2);
    m.countInFlightShed();
    assert.equal(sample((await m.render()).body, 'http_requests_shed_total{reason="in_flight"}'), 3);
  });
});
