import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testConfig, testEnv } from '../support/env.ts';
import { Client } from '../support/http.ts';
import { eventually, startApi, type Proc } from '../support/processes.ts';
import { createTestTopics } from '../support/services.ts';

const PROMETHEUS = 'http://127.0.0.1:9090';

async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${PROMETHEUS}/api/v1/query?query=${encodeURIComponent(expr)}`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  assert.equal(body.status, 'success');
  return body.data.result;
}

describe('Prometheus (real server) scraping the app', () => {
  // The local Prometheus scrapes the API on :8080 and the consumer on :9464 (prometheus/prometheus.yml).
  const env = testEnv({ PORT: '8080', CONSUMER_METRICS_PORT: '9464' });
  let api: Proc;

  before(async () => {
    await createTestTopics(testConfig(env));
    api = await startApi(env);
  });
  after(async () => {
    await api?.stop();
  });

  it('answers its API', async () => {
    const res = await fetch(`${PROMETHEUS}/api/v1/status/buildinfo`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'success');
  });

  it('scrapes the API and the consumer, including metrics recorded inside shard workers', async () => {
    const client = new Client('http://127.0.0.1:8080');
    // Unknown users: an outcome recorded inside a shard worker, with no need for seeded data.
    for (let i = 0; i < 5; i++) await client.request('POST', `/api/coupons/1/issue-fcfs/00000000-0000-4000-8000-00000000000${i}`);
    client.close();

    await eventually(
      'Prometheus to see both targets up',
      async () => {
        const up = await query('up{job=~"coupon-api|coupon-consumer"}');
        return up.length === 2 && up.every((r) => r.value[1] === '1');
      },
      60_000,
      1_000,
    );
    const outcomes = await eventually(
      'worker metrics in Prometheus',
      async () => {
        const r = await query('sum(coupon_admissions_total{job="coupon-api",result="USER_NOT_FOUND"})');
        return r.length > 0 && Number(r[0]!.value[1]) >= 5 ? r : undefined;
      },
      60_000,
      1_000,
    );
    assert.ok(Number(outcomes[0]!.value[1]) >= 5);
    const http = await query('sum(http_request_duration_seconds_count{job="coupon-api"})');
    assert.ok(Number(http[0]!.value[1]) >= 5);
  });
});
