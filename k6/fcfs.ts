/**
 * k6 load test of POST /api/coupons/{couponId}/issue-fcfs/{publicId}, driven by a scenario file of
 * k6/scenarios/ (the same files `npm run loadtest` reads). k6 >= 0.52 runs this TypeScript as is:
 *
 *   npm run seed -- --users 15100 --stock 1000
 *   k6 run -e SCENARIO=event-opening k6/fcfs.ts
 *
 * Env: SCENARIO (quick | four-stage | event-opening | smoke-ci, or a path to a .json), BASE_URL
 * (http://127.0.0.1:8080), SEED_USERS_FILE (../.data/seed/users.json, relative to this file),
 * ADMIN_TOKEN (dev-admin-token), SUMMARY_FILE (summary-<scenario>.json), RECONCILE_TIMEOUT
 * (seconds, 120). Every request uses a user no other request used: scenario s takes the users
 * plan[s].users after the slices of the scenarios listed before it, indexed by
 * exec.scenario.iterationInTest. The teardown asks the reconciliation route until the consumer
 * has persisted every admission; over-issue, duplicates or inconsistency fail the
 * reconciliation_ok threshold, and so the run.
 */
import { check, sleep } from 'k6';
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Rate } from 'k6/metrics';
import type { Options } from 'k6/options';

interface ScenarioFile {
  description: string;
  stock: number;
  plan: Record<string, { users: number; thinkTime?: string }>;
  scenarios: NonNullable<Options['scenarios']>;
  thresholds: NonNullable<Options['thresholds']>;
}

interface SeedFile {
  couponId: number;
  stock: number;
  publicIds: string[];
}

interface SetupData {
  couponId: number;
  totalQuantity: number;
  remainingAtStart: number;
}

interface Reconciliation {
  admitted: number;
  remaining: number;
  persisted: number;
  pending?: number;
  duplicates: number;
  overIssued: number;
  consistent: boolean;
}

const SCENARIO = __ENV.SCENARIO || 'quick';
const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const USERS_FILE = __ENV.SEED_USERS_FILE || '../.data/seed/users.json';
const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || 'dev-admin-token';
const RECONCILE_TIMEOUT = Number(__ENV.RECONCILE_TIMEOUT || '120');
/** How many times a virtual user presses again after being told to come back later. */
const RETRIES = Number(__ENV.RETRIES || '3');

/** Retry-After in seconds (whole seconds, as the API sends it); 1 when absent or unreadable. */
function retryAfterSeconds(header: string | undefined): number {
  const seconds = Number(header);
  return header !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds : 1;
}
const SCENARIO_FILE = SCENARIO.endsWith('.json') || SCENARIO.includes('/') ? SCENARIO : `./scenarios/${SCENARIO}.json`;
const SCENARIO_NAME = SCENARIO.replace(/^.*\//, '').replace(/\.json$/, '');

const def = JSON.parse(open(SCENARIO_FILE)) as ScenarioFile;

/** k6 duration strings ("500ms", "1s", "1m30s") in seconds. */
function seconds(text: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) total += Number(m[1]) * (units[m[2]!] ?? 0);
  return total;
}

/** Each scenario's slice of the seeded users, in the order the file lists the scenarios. */
const PLAN: Record<string, { offset: number; users: number; think: number }> = {};
let needed = 0;
for (const name of Object.keys(def.scenarios)) {
  const p = def.plan[name];
  if (!p) throw new Error(`${SCENARIO_FILE}: scenario ${name} has no plan entry`);
  PLAN[name] = { offset: needed, users: p.users, think: p.thinkTime ? seconds(p.thinkTime) : 0 };
  needed += p.users;
}

// open() works in the init context only: the seed file is read once and shared by all VUs.
const publicIds = new SharedArray('publicIds', () => (JSON.parse(open(USERS_FILE)) as SeedFile).publicIds);
const seedCoupon = new SharedArray('couponId', () => [(JSON.parse(open(USERS_FILE)) as SeedFile).couponId]);

const outcomes = new Counter('fcfs_outcomes');
const http5xx = new Counter('http_5xx');
const reconciliationOk = new Rate('reconciliation_ok');

export const options: Options = {
  scenarios: def.scenarios,
  thresholds: { ...def.thresholds, reconciliation_ok: ['rate==1'] },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  setupTimeout: '60s',
  teardownTimeout: `${RECONCILE_TIMEOUT + 30}s`,
};

// 409 (ALREADY_ISSUED, SOLD_OUT) is an answer the test expects, not a failure.
http.setResponseCallback(http.expectedStatuses(202, 409));

export function setup(): SetupData {
  const couponId = seedCoupon[0] as number;
  if (publicIds.length < needed) {
    exec.test.abort(
      `${USERS_FILE} holds ${publicIds.length} users, ${SCENARIO_NAME} needs ${needed}: npm run seed -- --users ${needed} --stock ${def.stock}`,
    );
  }
  const res = http.get(`${BASE_URL}/api/coupons/${couponId}`, { tags: { name: 'coupon' }, responseCallback: http.expectedStatuses(200) });
  if (res.status !== 200) exec.test.abort(`coupon ${couponId} of ${USERS_FILE}: GET answered ${res.status}`);
  const coupon = res.json() as { totalQuantity: number; remaining: number };
  console.log(`${SCENARIO_NAME}: coupon ${couponId}, ${coupon.remaining} of ${coupon.totalQuantity} units left, ${publicIds.length} users`);
  return { couponId, totalQuantity: coupon.totalQuantity, remainingAtStart: coupon.remaining };
}

export default function (data: SetupData): void {
  const name = exec.scenario.name;
  const slot = PLAN[name];
  if (!slot) {
    exec.test.abort(`scenario ${name} has no plan`);
    return;
  }
  const i = exec.scenario.iterationInTest;
  if (i >= slot.users) {
    exec.test.abort(`scenario ${name} used all ${slot.users} users of its plan: raise plan.${name}.users and seed more`);
    return;
  }
  const publicId = publicIds[slot.offset + i] as string;
  // A person told to come back later (429, 503 with Retry-After) waits that long and presses again.
  for (let attempt = 0; ; attempt++) {
    const res = http.post(`${BASE_URL}/api/coupons/${data.couponId}/issue-fcfs/${publicId}`, null, { tags: { name: 'issue-fcfs' } });
    let code = '';
    if (typeof res.body === 'string') {
      const m = /"(?:code|status)"\s*:\s*"([A-Z_]+)"/.exec(res.body);
      if (m) code = ` ${m[1]}`;
    }
    outcomes.add(1, { outcome: `${res.status}${code}` });
    http5xx.add(res.status >= 500 ? 1 : 0);
    const refused = res.status === 429 || res.status === 503;
    if (!refused || attempt >= RETRIES) {
      check(res, {
        'answered 202 ACCEPTED or 409': (r) => r.status === 202 || r.status === 409,
      });
      break;
    }
    sleep(retryAfterSeconds(res.headers['Retry-After']));
  }
  if (slot.think > 0) sleep(slot.think);
}

export function teardown(data: SetupData): void {
  const deadline = Date.now() + RECONCILE_TIMEOUT * 1000;
  let report: Reconciliation | null = null;
  for (;;) {
    const res = http.get(`${BASE_URL}/api/coupons/${data.couponId}/reconciliation`, {
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      tags: { name: 'reconciliation' },
      responseCallback: http.expectedStatuses(200),
    });
    if (res.status === 200) {
      report = res.json() as unknown as Reconciliation;
      if (report.overIssued > 0 || report.duplicates > 0) break;
      if (report.consistent && (report.pending ?? 0) === 0) break;
    }
    if (Date.now() > deadline) break;
    sleep(1);
  }
  console.log(`reconciliation: ${JSON.stringify(report)}`);
  const ok = check(report, {
    'reconciliation answered': (r) => r !== null,
    'no over-issue': (r) => r !== null && r.overIssued === 0,
    'no duplicate rows': (r) => r !== null && r.duplicates === 0,
    // biome-ignore lint/complexity/useOptionalChain: a check must return a boolean, and r?.consistent may be undefined.
    'consistent: every admission persisted once': (r) => r !== null && r.consistent && (r.pending ?? 0) === 0,
  });
  reconciliationOk.add(ok);
}

interface SummaryMetric {
  type: string;
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

export function handleSummary(data: { metrics: Record<string, SummaryMetric> }): Record<string, string> {
  const file = __ENV.SUMMARY_FILE || `summary-${SCENARIO_NAME}.json`;
  const lines: string[] = [`${SCENARIO_NAME}: ${def.description}`];
  const d = data.metrics.http_req_duration?.values;
  const reqs = data.metrics.http_reqs?.values;
  if (d && reqs) {
    lines.push(
      `http_reqs ${reqs.count} (${(reqs.rate ?? 0).toFixed(1)}/s); http_req_duration med ${(d.med ?? 0).toFixed(1)} ms, p95 ${(d['p(95)'] ?? 0).toFixed(1)} ms, p99 ${(d['p(99)'] ?? 0).toFixed(1)} ms, max ${(d.max ?? 0).toFixed(1)} ms`,
    );
  }
  let passed = true;
  for (const [name, metric] of Object.entries(data.metrics)) {
    for (const [expression, result] of Object.entries(metric.thresholds ?? {})) {
      passed &&= result.ok;
      lines.push(`  ${result.ok ? 'ok  ' : 'FAIL'} ${name}: ${expression}`);
    }
  }
  lines.push(`${passed ? 'PASSED' : 'FAILED'}; summary in ${file}`);
  return { [file]: JSON.stringify(data, null, 2), stdout: `${lines.join('\n')}\n` };
}
