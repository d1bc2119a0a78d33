import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Orm } from '../../src/store/database/orm.ts';
import type { Redis } from '../../src/store/redis.ts';
import { testConfig, testEnv } from '../support/env.ts';
import { Client } from '../support/http.ts';
import { eventually, startApi, type Proc } from '../support/processes.ts';
import { createTestTopics, openTestOrm, openTestRedis, testKafka } from '../support/services.ts';
import { fire, prepareStorm, type Storm } from '../support/storm.ts';
import { allPanels, dashboardFiles, dataExpression, loadDashboard, loadRules, PROMETHEUS, query, substitute } from './observability.ts';

const ADMIN = { authorization: 'Bearer test-admin-token-123' };
const SCRAPE_SECONDS = 5;

/**
 * Every dashboard panel query and every rule, evaluated by the real Prometheus (the local one,
 * scraping 127.0.0.1:8080 and :9464 every 5 s) against what the real API and consumer exported
 * during a small storm. A query that returns nothing is a broken panel or an alert that can never
 * fire: a misspelt metric or label, a label the metric does not have, a recording rule that is not
 * loaded.
 *
 * - Panel queries: template variables are replaced the way Grafana would ($coupon by the storm's
 *   coupon ids as a regex alternation, $__rate_interval by 1m) and each must return a series.
 * - Alert rules: the expression with its threshold comparisons removed (`x > 0.1` -> `x`,
 *   observability.ts dataExpression) must return a series. The alerts are written so that holds in
 *   a healthy system too (zero-filled recording rules, failure counters initialised at 0); the
 *   storm also sends one poison message so a dead letter really happens.
 * - Recording rules: each recorded series must exist (so Prometheus has loaded the rules).
 */
describe('dashboards and rules against live Prometheus data', { timeout: 300_000 }, () => {
  // Shedding off: on a busy machine it could refuse part of the storm, which is not under test here.
  const env = testEnv({ PORT: '8080', CONSUMER_METRICS_PORT: '9464', MAX_IN_FLIGHT: '0', MAX_EVENT_LOOP_DELAY_MS: '0' });
  const config = testConfig(env);
  let orm: Orm;
  let redis: Redis;
  let api: Proc | undefined;
  let client: Client;
  let storm: Storm;

  before(async () => {
    // The port Prometheus scrapes must be ours: another API there would answer the queries.
    const busy = await fetch('http://127.0.0.1:8080/health/live').then(
      () => true,
      () => false,
    );
    assert.ok(!busy, 'something already listens on 127.0.0.1:8080; stop it (only one test at a time may use it)');
    // Loads prometheus/rules/*.yml as they are in this checkout (the server runs with --web.enable-lifecycle).
    const reload = await fetch(`${PROMETHEUS}/-/reload`, { method: 'POST' });
    assert.equal(reload.status, 200, `Prometheus reload: ${await reload.text()}`);
    orm = await openTestOrm(config);
    redis = await openTestRedis(config);
    await createTestTopics(config);
    storm = await prepareStorm(orm, redis, { users: 500, stocks: [60, 40], requests: 2_000 });
    api = await startApi(env);
    client = new Client('http://127.0.0.1:8080', 64);
  });

  after(async () => {
    client?.close();
    await api?.stop();
    redis?.disconnect();
    await orm?.close();
  });

  const couponIds = () => storm.coupons.map((c) => String(c.id));
  const couponRegex = () => couponIds().join('|');

  it('drives a storm that Prometheus scrapes from the API and the consumer', async () => {
    await eventually(
      'Prometheus to see the API and the consumer up',
      async () => {
        const up = await query('up{job=~"coupon-api|coupon-consumer"} == 1');
        return up.length === 2;
      },
      60_000,
      1_000,
    );

    // A first trickle, scraped before the storm: the storm's counters then increase from an
    // existing series, so rate() sees them (a series born at its final value shows no rate).
    const warmup = storm.requests.slice(0, 100);
    await fire([client], warmup);
    await eventually(
      'the warm-up in Prometheus',
      async () => {
        const r = await query(`count(coupon_admissions_total{job="coupon-api",coupon_id=~"${couponRegex()}"})`);
        return r.length > 0;
      },
      60_000,
      1_000,
    );
    await new Promise((r) => setTimeout(r, SCRAPE_SECONDS * 1000));

    const results = await fire([client], storm.requests.slice(warmup.length));
    assert.ok(
      results.every((r) => r.status > 0),
      'every request answered',
    );

    // One message the consumer cannot decode: a real dead letter for the dead-letter panels.
    const producer = testKafka(config).producer();
    await producer.connect();
    await producer.send({ topic: config.kafka.topic, acks: -1, messages: [{ key: 'poison', value: 'not an issue event' }] });
    await producer.disconnect();

    // Every admission persisted; reconciliation (which sets reconciliation_consistent) agrees.
    for (const c of storm.coupons) {
      await eventually(
        `coupon ${c.id} to reconcile consistent`,
        async () => {
          const rec = await client.request('GET', `/api/coupons/${c.id}/reconciliation`, undefined, ADMIN);
          return rec.status === 200 && rec.body.consistent === true;
        },
        120_000,
        500,
      );
    }

    const stock = storm.coupons.reduce((n, c) => n + c.stock, 0);
    await eventually(
      'Prometheus to have the whole storm',
      async () => {
        const [accepted] = await query(`sum(coupon_admissions_total{job="coupon-api",result="ACCEPTED",coupon_id=~"${couponRegex()}"})`);
        const [dead] = await query('sum(consumer_dead_letters_total{job="coupon-consumer",reason="malformed"})');
        const [consistent] = await query(`count(reconciliation_consistent{coupon_id=~"${couponRegex()}"} == 1)`);
        return Number(accepted?.value[1]) === stock && Number(dead?.value[1]) >= 1 && Number(consistent?.value[1]) === storm.coupons.length;
      },
      60_000,
      1_000,
    );
    // Two more scrapes and rule evaluations, so every rate() and recording rule has caught up.
    await new Promise((r) => setTimeout(r, 2.5 * SCRAPE_SECONDS * 1000));
  });

  it('every dashboard panel query returns data', async (t) => {
    assert.ok(storm, 'the storm ran');
    let checked = 0;
    for (const file of dashboardFiles()) {
      for (const panel of allPanels(loadDashboard(file))) {
        for (const target of panel.targets ?? []) {
          if (!target.expr) continue;
          const expr = substitute(target.expr, { coupon: couponIds() });
          await t.test(`${file} / ${panel.title} / ${target.refId}`, async () => {
            const result = await query(expr);
            assert.ok(result.length > 0, `no data for: ${expr}`);
          });
          checked++;
        }
      }
    }
    assert.ok(checked >= 40, `only ${checked} panel queries`);
  });

  it('every alert rule looks at data that exists (its expression without the comparison)', async (t) => {
    assert.ok(storm, 'the storm ran');
    const alerts = loadRules().filter((r) => r.alert);
    assert.ok(alerts.length >= 18);
    for (const rule of alerts) {
      const expr = dataExpression(rule.expr);
      assert.notEqual(expr, rule.expr.trim(), `${rule.alert}: no threshold comparison found to remove`);
      await t.test(`${rule.alert}: ${expr.replace(/\s+/g, ' ')}`, async () => {
        const result = await query(expr);
        assert.ok(result.length > 0, `no data for ${rule.alert}: ${expr}`);
      });
    }
  });

  it('every recording rule produces a series', async (t) => {
    const records = loadRules().filter((r) => r.record);
    for (const rule of records) {
      await t.test(rule.record!, async () => {
        assert.ok((await query(rule.record!)).length > 0, `${rule.record} has no series: are the rules loaded?`);
      });
    }
  });

  it('shows the storm as it happened', async () => {
    // The overview's stock panel reaches 0 for both coupons, and its request-rate panel saw the storm.
    const stock = await query(`coupon_id:coupon_stock_remaining:min{coupon_id=~"${couponRegex()}"}`);
    assert.deepEqual(
      stock.map((s) => [s.metric.coupon_id, s.value[1]]).sort(),
      couponIds()
        .map((id) => [id, '0'])
        .sort(),
    );
    const [rate] = await query('max_over_time(sum(job:http_requests:rate1m{job="coupon-api"})[2m:5s])');
    assert.ok(Number(rate?.value[1]) > 0, 'the request rate saw the storm');
    const [dead] = await query('max_over_time(sum(increase(consumer_dead_letters_total{job="coupon-consumer"}[1m]))[2m:5s])');
    assert.ok(Number(dead?.value[1]) > 0, 'the dead letter shows as an increase');
  });
});
