import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** Helpers shared by the tests of dashboards/*.json and prometheus/rules/*.yml (test/metrics/). */

export const ROOT = new URL('../../', import.meta.url);
export const PROMETHEUS = 'http://127.0.0.1:9090';

export interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}

export interface Panel {
  id?: number;
  type?: string;
  title?: string;
  gridPos?: { h?: number; w?: number; x?: number; y?: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  fieldConfig?: { defaults?: { unit?: string; thresholds?: { mode?: string; steps?: { color: string; value: number | null }[] } } };
}

export interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: { name?: string; type?: string; query?: unknown; definition?: string; datasource?: { uid?: string } }[] };
}

export function dashboardFiles(): string[] {
  return readdirSync(new URL('dashboards/', ROOT))
    .filter((f) => f.endsWith('.json'))
    .sort();
}

export function loadDashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(new URL(`dashboards/${file}`, ROOT), 'utf8')) as Dashboard;
}

/** Every panel, including those nested in collapsed rows. */
export function allPanels(dashboard: Dashboard): Panel[] {
  const out: Panel[] = [];
  const walk = (panels: Panel[] | undefined) => {
    for (const p of panels ?? []) {
      out.push(p);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

/**
 * A panel query as Prometheus would receive it from Grafana: template variables replaced the way
 * Grafana does. A multi-value $coupon becomes a regex alternation (the panels use it in
 * coupon_id=~"$coupon"), the interval variables become fixed windows.
 */
export function substitute(expr: string, vars: { coupon: string[] }): string {
  const coupon = vars.coupon.length === 1 ? vars.coupon[0]! : `(${vars.coupon.join('|')})`;
  const values: Record<string, string> = {
    coupon,
    __rate_interval: '1m',
    __interval: '15s',
    __range: '5m',
    __range_s: '300',
    __interval_ms: '15000',
    datasource: 'prometheus',
  };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, a?: string, b?: string, c?: string) => {
    const name = a ?? b ?? c ?? '';
    const value = values[name];
    if (value === undefined) throw new Error(`unknown template variable ${whole} in ${expr}`);
    return value;
  });
}

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
}

export function ruleFiles(): string[] {
  return readdirSync(new URL('prometheus/rules/', ROOT))
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort();
}

export function loadRules(): Rule[] {
  const rules: Rule[] = [];
  for (const file of ruleFiles()) {
    const doc = parse(readFileSync(new URL(`prometheus/rules/${file}`, ROOT), 'utf8')) as { groups: { rules: Rule[] }[] };
    for (const group of doc.groups) rules.push(...group.rules);
  }
  return rules;
}

/**
 * An alert's expression without its threshold comparisons: `x > 0.1` becomes `x`, and
 * `a > 0 and on (c) b == 0` becomes `a and on (c) b`. What is left is the data the alert looks
 * at, which must exist in a healthy system for the alert to be able to fire at all (a typo in a
 * metric or label name would leave it empty forever). Only comparisons with a number are removed;
 * matchers such as status_code=~"5.." are inside braces and quoted, so they never match.
 */
export function dataExpression(expr: string): string {
  return expr.replace(/\s*(?:==|!=|>=|<=|>|<)\s*(?:bool\s+)?-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.])/gi, '').trim();
}

/** Simple alerts, `<series> > <number>`: which thresholds each recorded series is alerted at. */
export function alertThresholds(rules: Rule[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of rules) {
    if (!r.alert) continue;
    const m = /^\s*([a-zA-Z_:][\w:]*)\s*>\s*(-?\d+(?:\.\d+)?)\s*$/.exec(r.expr);
    if (!m) continue;
    const list = out.get(m[1]!) ?? [];
    list.push(Number(m[2]));
    out.set(m[1]!, list);
  }
  return out;
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query through Prometheus's HTTP API; throws with Prometheus's error on a bad query. */
export async function query(expr: string): Promise<Sample[]> {
  const res = await fetch(`${PROMETHEUS}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: expr }),
  });
  const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Sample[] | [number, string] } };
  if (body.status !== 'success') throw new Error(`Prometheus rejected ${expr}: ${body.error}`);
  const data = body.data!;
  // A scalar (e.g. a bare number) counts as one sample.
  if (data.resultType === 'scalar' || data.resultType === 'string') return [{ metric: {}, value: data.result as [number, string] }];
  return data.result as Sample[];
}
