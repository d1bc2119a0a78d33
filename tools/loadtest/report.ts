/**
 * The HTML report of a load test: one self-contained file (inline CSS and SVG, no scripts, nothing
 * fetched), with charts over time of request rate, load, latency percentiles, answers by status and
 * code, the coupon's remaining stock, and the consumer lag.
 */
import type { LoadTestSummary } from './runner.ts';
import { emptyChart, escapeXml as esc, lineChart, outcomeColor, PALETTE, stackedChart, type LineSeries, type Marker } from './svg.ts';

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:960px;color:#223;padding:0 12px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde;padding-bottom:4px}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:600}
.pass{background:#2a8a3a}.fail{background:#c0392b}
table{border-collapse:collapse;margin:6px 0 12px}td,th{border:1px solid #dde;padding:3px 9px;text-align:right}
th{background:#f3f3f8}td:first-child,th:first-child{text-align:left}
.ok{color:#2a8a3a;font-weight:600}.bad{color:#c0392b;font-weight:600}
.muted{color:#667}svg.chart{display:block;margin:8px 0 18px;max-width:100%;height:auto}
svg .title{font-size:13px;font-weight:600;fill:#223}svg .tick{font-size:10px;fill:#556}svg .axis{font-size:11px;fill:#556}
svg .legend{font-size:11px;fill:#334}svg .marker-label{font-size:10px}svg .na{font-size:14px;fill:#778}
code{background:#f3f3f8;padding:0 3px;border-radius:3px}ul{margin:4px 0}
`;

function num(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(digits);
}

function table(head: string[], rows: (string | number)[][]): string {
  return `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${typeof c === 'number' ? num(c) : c}</td>`).join('')}</tr>`).join('')}</table>`;
}

/** Latency markers from thresholds like http_req_duration...: p(95)<50. */
function latencyMarkers(s: LoadTestSummary): Marker[] {
  const out: Marker[] = [];
  for (const t of s.thresholds) {
    if (!t.key.startsWith('http_req_duration')) continue;
    const m = /^p\((\d+(?:\.\d+)?)\)\s*<=?\s*(\d+(?:\.\d+)?)$/.exec(t.expression.replace(/\s+/g, ''));
    if (!m) continue;
    const label = `${t.key.replace('http_req_duration', '')} p(${m[1]}) < ${m[2]} ms`.trim();
    const same = out.find((x) => x.y === Number(m[2]));
    if (same) same.label = `${same.label}; ${label}`;
    else out.push({ y: Number(m[2]), label, color: '#c0392b' });
  }
  return out;
}

export function renderReport(s: LoadTestSummary): string {
  const t = s.series.t;
  const xMax = Math.max(s.durationS, t.length ? t[t.length - 1]! : 0);
  const names = Object.keys(s.series.active);
  const charts: string[] = [];

  const rate: LineSeries[] = [{ name: 'completed requests/s', color: PALETTE[0]!, points: t.map((x, i) => [x, s.series.rps[i]!]) }];
  names.forEach((name, k) => {
    const def = s.definition.scenarios[name];
    if (def?.executor.includes('arrival')) {
      rate.push({
        name: `${name}: scheduled arrivals/s`,
        color: PALETTE[(k + 1) % PALETTE.length]!,
        dashed: true,
        points: t.map((x, i) => [x, s.series.target[name]![i]!]),
      });
    }
  });
  charts.push(lineChart({ id: 'chart-rate', xMax, title: 'Request rate', yLabel: 'requests / s', series: rate }));

  const load: LineSeries[] = [];
  names.forEach((name, k) => {
    const def = s.definition.scenarios[name];
    const arrival = def?.executor.includes('arrival');
    load.push({
      name: `${name}: ${arrival ? 'in-flight iterations' : 'active VUs'}`,
      color: PALETTE[k % PALETTE.length]!,
      points: t.map((x, i) => [x, s.series.active[name]![i]!]),
    });
    if (!arrival)
      load.push({
        name: `${name}: target VUs`,
        color: PALETTE[k % PALETTE.length]!,
        dashed: true,
        points: t.map((x, i) => [x, s.series.target[name]![i]!]),
      });
  });
  charts.push(lineChart({ id: 'chart-load', xMax, title: 'Load: virtual users / iterations in flight', yLabel: 'VUs', series: load }));

  charts.push(
    lineChart({
      id: 'chart-latency',
      xMax,
      title: 'Latency percentiles (per second, by completion)',
      yLabel: 'ms',
      markers: latencyMarkers(s),
      series: [
        { name: 'p50', color: '#2ca02c', points: t.map((x, i) => [x, s.series.p50[i] ?? null]) },
        { name: 'p95', color: '#ff7f0e', points: t.map((x, i) => [x, s.series.p95[i] ?? null]) },
        { name: 'p99', color: '#d62728', points: t.map((x, i) => [x, s.series.p99[i] ?? null]) },
      ],
    }),
  );

  const outcomeNames = Object.keys(s.series.outcomes).sort((a, b) => (s.outcomes[b] ?? 0) - (s.outcomes[a] ?? 0));
  charts.push(
    outcomeNames.length === 0
      ? emptyChart('chart-outcomes', 'Answers by status and code', 'no requests')
      : stackedChart({
          id: 'chart-outcomes',
          xMax,
          title: 'Answers by status and code (per second, stacked)',
          yLabel: 'answers / s',
          x: t,
          layers: outcomeNames.map((n, i) => ({ name: n, color: outcomeColor(n, i), values: s.series.outcomes[n]! })),
        }),
  );

  charts.push(
    s.stock.length === 0
      ? emptyChart('chart-stock', 'Coupon stock', 'N/A: GET /api/coupons/{id} gave no answer during the run')
      : lineChart({
          id: 'chart-stock',
          xMax,
          title: `Coupon ${s.couponId}: remaining units and rows persisted (polled each second)`,
          yLabel: 'units',
          series: [
            { name: 'remaining (Redis)', color: '#1f77b4', points: s.stock.map((p) => [Math.max(0, p.t), p.remaining]) },
            { name: 'issuedCount (database)', color: '#2ca02c', points: s.stock.map((p) => [Math.max(0, p.t), p.issuedCount]) },
            {
              name: 'admitted, not yet persisted',
              color: '#ff7f0e',
              dashed: true,
              points: s.stock.map((p) => [Math.max(0, p.t), Math.max(0, s.couponAtStart.totalQuantity - p.remaining - p.issuedCount)]),
            },
          ],
        }),
  );

  charts.push(
    s.lag === null || s.lag.length === 0
      ? emptyChart('chart-lag', 'Consumer lag: sum(consumer_lag)', s.lagNote || 'N/A')
      : lineChart({
          id: 'chart-lag',
          xMax,
          title: 'Consumer lag: sum(consumer_lag) from Prometheus',
          yLabel: 'messages',
          series: [{ name: 'consumer lag', color: '#9467bd', points: s.lag.map((p) => [Math.max(0, p.t), p.lag]) }],
        }),
  );

  const m = s.metrics;
  const d = m.http_req_duration;
  const scenarioRows = Object.entries(s.byScenario).map(([name, x]) => {
    const def = s.definition.scenarios[name];
    return [
      esc(name),
      esc(def?.executor ?? ''),
      x.http_reqs.count,
      x.http_req_duration.med,
      x.http_req_duration.p95,
      x.http_req_duration.p99,
      x.http_req_duration.max,
      `${(x.http_req_failed.rate * 100).toFixed(2)} %`,
      x.http_5xx.count,
      x.dropped_iterations.count,
    ];
  });
  const rec = s.reconciliation.report;
  const g = s.generator;

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Load test ${esc(s.scenario)}: ${s.passed ? 'passed' : 'failed'}</title><style>${CSS}</style></head>
<body>
<h1>Load test <code>${esc(s.scenario)}</code> <span class="verdict ${s.passed ? 'pass' : 'fail'}">${s.passed ? 'PASSED' : 'FAILED'}</span></h1>
<p class="muted">${esc(s.description)}</p>
<p class="muted">Started ${esc(s.startedAt)}, ${num(s.durationS)} s against <code>${esc(s.baseUrl)}</code>, coupon ${s.couponId}
(${num(s.couponAtStart.remaining)} of ${num(s.couponAtStart.totalQuantity)} units left at the start), ${num(s.usersNeeded)} of ${num(s.usersSeeded)} seeded users reserved.
Machine: ${esc(s.machine.cpuModel)} × ${s.machine.cpus}, ${s.machine.memoryGiB} GiB, Node ${esc(s.machine.node)}, commit ${esc(s.machine.commit)}${s.machine.uncommitted?.length ? ` with uncommitted changes (${esc(s.machine.uncommitted.join(', '))})` : ''}, load average ${esc((s.machine.loadavg ?? []).join(' '))} at the start.</p>
${s.failures.length ? `<ul>${s.failures.map((f) => `<li class="bad">${esc(f)}</li>`).join('')}</ul>` : ''}
<h2>Summary</h2>
${table(['requests', 'rate', 'avg ms', 'med ms', 'p90 ms', 'p95 ms', 'p99 ms', 'max ms', 'failed', '5xx', 'dropped'], [[m.http_reqs.count, `${num(m.http_reqs.rate)}/s`, d.avg, d.med, d.p90, d.p95, d.p99, d.max, `${(m.http_req_failed.rate * 100).toFixed(2)} %`, m.http_5xx.count, m.dropped_iterations.count]])}
<h2>Thresholds</h2>
${
  s.thresholds.length
    ? table(
        ['metric', 'threshold', 'actual', 'result'],
        s.thresholds.map((x) => [
          esc(x.key),
          esc(x.expression),
          x.actual,
          x.ok ? '<span class="ok">pass</span>' : '<span class="bad">FAIL</span>',
        ]),
      )
    : '<p class="muted">none</p>'
}
<h2>Reconciliation</h2>
<p>${s.reconciliation.ok ? '<span class="ok">consistent</span>' : `<span class="bad">${esc(s.reconciliation.reason)}</span>`} <span class="muted">(after waiting ${num(s.reconciliation.waitedMs / 1000)} s for the consumer)</span></p>
${rec ? table(['admitted', 'remaining', 'persisted', 'pending', 'duplicates', 'overIssued', 'consistent'], [[rec.admitted, rec.remaining, rec.persisted, rec.pending ?? '-', rec.duplicates, rec.overIssued, String(rec.consistent)]]) : ''}
<h2>Charts</h2>
${charts.join('\n')}
<h2>Answers</h2>
${table(
  ['status and code', 'count'],
  Object.entries(s.outcomes).map(([k, v]) => [esc(k), v]),
)}
<h2>Scenarios</h2>
${table(['scenario', 'executor', 'requests', 'med ms', 'p95 ms', 'p99 ms', 'max ms', 'failed', '5xx', 'dropped'], scenarioRows)}
<h2>Load generator</h2>
<p class="muted">${g.connections} connections at most; ${g.interrupted} requests cut off at a graceful stop${g.aborted ? `; aborted: ${esc(g.aborted)}` : ''}.
${g.startLagMs.count ? `Arrival-rate iterations started ${num(g.startLagMs.p50, 2)} ms (p50), ${num(g.startLagMs.p99, 2)} ms (p99), ${num(g.startLagMs.max, 1)} ms (max) behind their schedule: a large lag means the generator itself was short of CPU.` : ''}
The generator runs on the same machine as the system under test, so it takes CPU from it.</p>
<h2>Scenario definition</h2>
<pre>${esc(JSON.stringify({ stock: s.definition.stock, plan: s.definition.plan, scenarios: s.definition.scenarios, thresholds: s.definition.thresholds }, null, 2))}</pre>
</body></html>
`;
}
