/**
 * `npm run loadtest -- <scenario> [--base-url URL] [--users-file FILE] [--out DIR]
 *   [--admin-token TOKEN] [--prometheus URL|none] [--kafka-topic T] [--reconcile-timeout S]`
 *
 * Runs a scenario of k6/scenarios/ (by name, or a path to such a file) against a running API with
 * the local load generator, one seeded user per request, then checks reconciliation. Writes
 * summary.json and report.html into --out (default .data/loadtest/<scenario>-<time>) and exits 1
 * when a threshold failed, reconciliation is not consistent, or the run was cut short.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoadTest, writeOutputs } from './runner.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'base-url': { type: 'string', default: process.env.BASE_URL ?? 'http://127.0.0.1:8080' },
    'users-file': { type: 'string', default: process.env.SEED_USERS_FILE || '.data/seed/users.json' },
    out: { type: 'string' },
    'admin-token': { type: 'string', default: process.env.ADMIN_TOKEN || 'dev-admin-token' },
    prometheus: { type: 'string', default: process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:9090' },
    'kafka-topic': { type: 'string', default: process.env.KAFKA_TOPIC || 'coupon.issue.requested' },
    'reconcile-timeout': { type: 'string', default: '120' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help || positionals.length !== 1) {
  console.error(
    'usage: npm run loadtest -- <scenario: quick | four-stage | event-opening | smoke-ci | path.json> [--base-url URL] [--users-file FILE] [--out DIR] [--admin-token T] [--prometheus URL|none] [--kafka-topic T] [--reconcile-timeout S]',
  );
  process.exit(values.help ? 0 : 2);
}
const scenario = positionals[0]!;
const reconcileTimeout = Number(values['reconcile-timeout']);
if (!Number.isFinite(reconcileTimeout) || reconcileTimeout < 0) {
  console.error('--reconcile-timeout must be a number of seconds');
  process.exit(2);
}
const name = scenario.replace(/^.*\//, '').replace(/\.json$/, '');
const out = values.out ?? join('.data', 'loadtest', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
const prometheus = values.prometheus === 'none' || values.prometheus === '' ? null : values.prometheus!.replace(/\/$/, '');

const stop = new AbortController();
process.once('SIGINT', () => {
  console.error('SIGINT: stopping the load (Ctrl-C again to quit at once)');
  stop.abort('SIGINT');
  process.once('SIGINT', () => process.exit(130));
});

let summary: Awaited<ReturnType<typeof runLoadTest>>;
try {
  summary = await runLoadTest({
    scenario,
    baseUrl: values['base-url']!.replace(/\/$/, ''),
    usersFile: values['users-file']!,
    adminToken: values['admin-token']!,
    prometheusUrl: prometheus,
    kafkaTopic: values['kafka-topic'] || null,
    reconcileTimeoutMs: reconcileTimeout * 1000,
    signal: stop.signal,
    log: (line) => console.error(line),
  });
} catch (err) {
  console.error(`loadtest: ${(err as Error).message}`);
  process.exit(2);
}

const files = writeOutputs(summary, out);
const d = summary.metrics.http_req_duration;
console.log(
  `${summary.scenario}: ${summary.metrics.http_reqs.count} requests, ${summary.metrics.http_reqs.rate}/s, ` +
    `p50 ${d.med} ms, p95 ${d.p95} ms, p99 ${d.p99} ms, max ${d.max} ms, failed ${(summary.metrics.http_req_failed.rate * 100).toFixed(2)} %, 5xx ${summary.metrics.http_5xx.count}`,
);
console.log(
  `answers: ${Object.entries(summary.outcomes)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}`,
);
for (const t of summary.thresholds) console.log(`  ${t.ok ? 'ok  ' : 'FAIL'} ${t.key}: ${t.expression} (actual ${t.actual})`);
console.log(`  ${summary.reconciliation.ok ? 'ok  ' : 'FAIL'} reconciliation: ${summary.reconciliation.reason}`);
if (summary.generator.aborted) console.log(`  FAIL aborted: ${summary.generator.aborted}`);
console.log(`${summary.passed ? 'PASSED' : 'FAILED'}; summary ${files.json}, report ${files.html}`);
process.exit(summary.passed ? 0 : 1);
