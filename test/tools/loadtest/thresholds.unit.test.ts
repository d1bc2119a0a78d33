import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Recorder } from '../../../tools/loadtest/recorder.ts';
import { lowerMedian, percentile, summarizeTrend } from '../../../tools/loadtest/stats.ts';
import { compare, evaluateThresholds, parseExpression, parseMetricKey, parseThresholds } from '../../../tools/loadtest/thresholds.ts';

describe('percentiles', () => {
  it('interpolates between closest ranks as k6 does', () => {
    const v = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(percentile(v, 0), 1);
    assert.equal(percentile(v, 100), 10);
    assert.equal(percentile(v, 50), 5.5);
    assert.ok(Math.abs(percentile(v, 95) - 9.55) < 1e-9);
    assert.ok(Math.abs(percentile(v, 99) - 9.91) < 1e-9);
    assert.equal(percentile(Float64Array.from([]), 95), 0);
    assert.equal(percentile(Float64Array.from([42]), 99), 42);
  });

  it('summarizes a trend', () => {
    const values = Array.from({ length: 1_000 }, (_, i) => 1_000 - i); // 1000..1, unsorted
    const s = summarizeTrend(values);
    assert.equal(s.count, 1_000);
    assert.equal(s.min, 1);
    assert.equal(s.max, 1_000);
    assert.equal(s.avg, 500.5);
    assert.equal(s.med, 500.5);
    assert.ok(Math.abs(s.p95 - 950.05) < 1e-9);
    assert.ok(Math.abs(s.p99 - 990.01) < 1e-9);
  });

  it('takes the lower middle value as the median of rounds, so it is one that was measured', () => {
    assert.equal(lowerMedian([26, 20, 24, 22]), 22);
    assert.equal(lowerMedian([3, null, 1, 2]), 2);
    assert.equal(lowerMedian([null, Number.NaN]), null);
    assert.equal(lowerMedian([]), null);
  });
});

describe('threshold expressions', () => {
  it('parses k6 metric keys with tag filters', () => {
    assert.deepEqual(parseMetricKey('http_req_duration'), { metric: 'http_req_duration', filter: {} });
    assert.deepEqual(parseMetricKey('http_req_duration{scenario:load}'), { metric: 'http_req_duration', filter: { scenario: 'load' } });
    assert.deepEqual(parseMetricKey('http_req_failed{scenario:spike,status:503}'), {
      metric: 'http_req_failed',
      filter: { scenario: 'spike', status: '503' },
    });
    assert.throws(() => parseMetricKey('checks'), /not one the local runner measures/);
    assert.throws(() => parseMetricKey('http_reqs{group:x}'), /tag filters/);
  });

  it('parses aggregates and operators, and refuses the ones a metric lacks', () => {
    assert.deepEqual(parseExpression('p(95)<1000', 'http_req_duration'), { aggregate: 'p(95)', op: '<', value: 1000 });
    assert.deepEqual(parseExpression(' p( 99.9 ) <= 150 ', 'http_req_duration'), { aggregate: 'p(99.9)', op: '<=', value: 150 });
    assert.deepEqual(parseExpression('rate<0.05', 'http_req_failed'), { aggregate: 'rate', op: '<', value: 0.05 });
    assert.deepEqual(parseExpression('count==0', 'http_5xx'), { aggregate: 'count', op: '==', value: 0 });
    assert.throws(() => parseExpression('p(95)<1', 'http_req_failed'), /has no "p\(95\)"/);
    assert.throws(() => parseExpression('p95 < 1', 'http_req_duration'), /expected/);
    assert.throws(() => parseExpression('count<1', 'http_req_duration'), /has no "count"/);
    assert.throws(() => parseExpression('avg', 'http_req_duration'), /expected/);
    assert.ok(
      compare(1, '<', 2) &&
        !compare(2, '<', 2) &&
        compare(2, '<=', 2) &&
        compare(0, '===', 0) &&
        compare(1, '!=', 0) &&
        compare(3, '>=', 3),
    );
  });

  it('evaluates over recorded requests, per scenario and overall', () => {
    const rec = new Recorder(['load', 'spike']);
    // load: 100 answers of 1..100 ms, all 202/409; spike: 10 slow ones, one 503 and one dropped connection.
    for (let i = 1; i <= 100; i++) rec.add(0, i * 10, i, i % 2 ? 202 : 409, i % 2 ? '202 ACCEPTED' : '409 SOLD_OUT');
    for (let i = 0; i < 8; i++) rec.add(1, 2_000 + i, 2_500, 409, '409 SOLD_OUT');
    rec.add(1, 2_100, 30, 503, '503 UNAVAILABLE');
    rec.add(1, 2_200, 5, 0, '0 ECONNRESET');
    rec.dropped[1] = 3;
    rec.endMs = 10_000;
    const results = evaluateThresholds(
      parseThresholds({
        'http_req_duration{scenario:load}': ['p(95)<1000', 'p(50)<50', 'max<100'],
        'http_req_failed{scenario:load}': ['rate<0.05'],
        'http_req_duration{scenario:spike}': ['p(95)<2000'],
        'http_req_failed{scenario:spike}': ['rate<0.05'],
        http_5xx: ['count==0'],
        'dropped_iterations{scenario:spike}': ['count==0'],
        http_reqs: ['count>=110', 'rate>10'],
        'http_req_duration{expected_response:true}': ['p(99)<3000'],
      }),
      rec,
    );
    const byKey = (k: string, e: string) => results.find((r) => r.key === k && r.expression === e)!;
    assert.equal(byKey('http_req_duration{scenario:load}', 'p(95)<1000').ok, true);
    assert.ok(Math.abs(byKey('http_req_duration{scenario:load}', 'p(95)<1000').actual - 95.05) < 1e-9);
    assert.equal(byKey('http_req_duration{scenario:load}', 'p(50)<50').ok, false); // 50.5
    assert.equal(byKey('http_req_duration{scenario:load}', 'max<100').ok, false); // 100
    assert.equal(byKey('http_req_failed{scenario:load}', 'rate<0.05').actual, 0);
    // spike: 9 answers (the dropped connection has no duration), p95 of [30, 2500 x8] = 2500.
    assert.equal(byKey('http_req_duration{scenario:spike}', 'p(95)<2000').actual, 2_500);
    assert.equal(byKey('http_req_duration{scenario:spike}', 'p(95)<2000').ok, false);
    assert.equal(byKey('http_req_failed{scenario:spike}', 'rate<0.05').actual, 0.2); // 503 and no answer, of 10
    assert.equal(byKey('http_5xx', 'count==0').actual, 1);
    assert.equal(byKey('dropped_iterations{scenario:spike}', 'count==0').actual, 3);
    assert.equal(byKey('http_reqs', 'count>=110').ok, true);
    assert.equal(byKey('http_reqs', 'rate>10').actual, 11);
    assert.equal(byKey('http_req_duration{expected_response:true}', 'p(99)<3000').ok, true);
  });

  it('gives per-second series by completion time', () => {
    const rec = new Recorder(['s']);
    rec.add(0, 100, 50, 202, '202 ACCEPTED');
    rec.add(0, 900, 200, 409, '409 SOLD_OUT'); // completes at 1.1 s
    rec.add(0, 1_500, 10, 409, '409 SOLD_OUT');
    rec.add(0, 2_500, 10, 0, '0 ECONNRESET');
    rec.endMs = 3_000;
    const s = rec.series();
    assert.deepEqual(s.t, [0, 1, 2]);
    assert.deepEqual(s.rps, [1, 2, 1]);
    assert.deepEqual(s.outcomes['409 SOLD_OUT'], [0, 2, 0]);
    assert.deepEqual(s.outcomes['0 ECONNRESET'], [0, 0, 1]);
    assert.deepEqual(s.p50, [50, 105, null]);
  });
});
