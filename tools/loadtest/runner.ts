/**
 * One load test from a scenario file, end to end: checks the seed, runs the scenarios, watches the
 * stock and the consumer lag, evaluates the thresholds, waits for reconciliation, and returns the
 * summary that `npm run loadtest` writes as JSON and renders as HTML.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { runScenarios, type EngineResult } from './engine.ts';
import { getCoupon, Monitor, type LagPoint, type StockPoint } from './monitor.ts';
import { awaitReconciliation, type ReconciliationCheck } from './reconciliation.ts';
import type { MetricSummary, Series } from './recorder.ts';
import { renderReport } from './report.ts';
import { loadScenarioFile, resolveScenarios, scenarioPath, testDurationMs, usersNeeded, type ScenarioFile } from './scenario.ts';
import { round, type TrendSummary } from './stats.ts';
import { evaluateThresholds, parseThresholds, type ThresholdResult } from './thresholds.ts';

export interface SeedFile {
  couponId: number;
  stock: number;
  publicIds: string[];
}

export interface MachineInfo {
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  node: string;
  platform: string;
  commit: string;
  /** Tracked files with uncommitted changes when the run started: the code measured is not exactly the commit. */
  uncommitted: string[];
  /** 1, 5 and 15 minute load averages at the start: other work on the machine skews the figures. */
  loadavg: number[];
}

export interface LoadTestSummary {
  scenario: string;
  description: string;
  file: string;
  startedAt: string;
  durationS: number;
  baseUrl: string;
  couponId: number;
  usersFile: string;
  usersSeeded: number;
  usersNeeded: number;
  machine: MachineInfo;
  metrics: MetricSummary;
  byScenario: Record<string, MetricSummary>;
  outcomes: Record<string, number>;
  thresholds: ThresholdResult[];
  reconciliation: ReconciliationCheck;
  couponAtStart: { totalQuantity: number; remaining: number; issuedCount: number };
  generator: { connections: number; interrupted: number; aborted: string | null; startLagMs: EngineResult['startLagMs'] };
  /** The scenario file's own scenarios and thresholds, for the report. */
  definition: Pick<ScenarioFile, 'scenarios' | 'thresholds' | 'plan' | 'stock'>;
  series: Series;
  stock: StockPoint[];
  lag: LagPoint[] | null;
  lagNote: string;
  passed: boolean;
  failures: string[];
}

export interface LoadTestOptions {
  scenario: string;
  baseUrl: string;
  usersFile: string;
  adminToken: string;
  /** null: do not ask Prometheus. */
  prometheusUrl: string | null;
  /** The API's Kafka topic, to chart its consumers' lag only; null: the lag summed over all topics. */
  kafkaTopic?: string | null;
  reconcileTimeoutMs?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export function machineInfo(): MachineInfo {
  let commit = 'unknown';
  let uncommitted: string[] = [];
  const cwd = new URL('../../', import.meta.url).pathname;
  try {
    commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    uncommitted = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .split('\n')
      .map((l) => l.slice(3).trim())
      .filter(Boolean);
  } catch {
    // not a checkout
  }
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cpus: list.length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    commit,
    uncommitted,
    loadavg: loadavg().map((x) => round(x, 2)),
  };
}

export function readSeedFile(path: string): SeedFile {
  if (!existsSync(path)) throw new Error(`no users file ${path}: run \`npm run seed -- --users N --stock S\` first`);
  const data = JSON.parse(readFileSync(path, 'utf8')) as SeedFile;
  if (!Number.isInteger(data.couponId) || !Array.isArray(data.publicIds))
    throw new Error(`${path} is not a seed file ({couponId, stock, publicIds})`);
  return data;
}

function roundTrend(t: TrendSummary): TrendSummary {
  return {
    count: t.count,
    avg: round(t.avg),
    min: round(t.min),
    med: round(t.med),
    max: round(t.max),
    p90: round(t.p90),
    p95: round(t.p95),
    p99: round(t.p99),
  };
}

export function roundMetrics(m: MetricSummary): MetricSummary {
  return {
    ...m,
    seconds: round(m.seconds),
    http_reqs: { count: m.http_reqs.count, rate: round(m.http_reqs.rate) },
    http_req_duration: roundTrend(m.http_req_duration),
    http_req_failed: { ...m.http_req_failed, rate: round(m.http_req_failed.rate, 5) },
  };
}

export async function runLoadTest(opts: LoadTestOptions): Promise<LoadTestSummary> {
  const log = opts.log ?? (() => undefined);
  const file = loadScenarioFile(opts.scenario);
  const scenarios = resolveScenarios(file);
  const thresholds = parseThresholds(file.thresholds);
  const seed = readSeedFile(opts.usersFile);
  const needed = usersNeeded(file);
  if (seed.publicIds.length < needed) {
    throw new Error(
      `${opts.usersFile} holds ${seed.publicIds.length} users; scenario ${opts.scenario} needs ${needed} (one per request): ` +
        `npm run seed -- --users ${needed} --stock ${file.stock}`,
    );
  }
  const coupon = await getCoupon(opts.baseUrl, seed.couponId);
  if (!coupon) throw new Error(`coupon ${seed.couponId} from ${opts.usersFile} does not exist at ${opts.baseUrl}`);
  if (coupon.remaining < coupon.totalQuantity)
    log(
      `note: coupon ${coupon.id} already has ${coupon.totalQuantity - coupon.remaining} of ${coupon.totalQuantity} units taken (seed again for a fresh run)`,
    );

  const monitor = new Monitor({
    baseUrl: opts.baseUrl,
    couponId: seed.couponId,
    prometheusUrl: opts.prometheusUrl,
    kafkaTopic: opts.kafkaTopic ?? null,
  });
  await monitor.start();
  const offset = monitor.elapsed();
  const total = testDurationMs(scenarios);
  log(
    `${opts.scenario}: ${scenarios.map((s) => `${s.name} (${s.executor})`).join(', ')}; ~${Math.round(total / 1000)} s against ${opts.baseUrl}, coupon ${seed.couponId}`,
  );
  const engine = await runScenarios({
    baseUrl: opts.baseUrl,
    scenarios,
    path: (i) => `/api/coupons/${seed.couponId}/issue-fcfs/${seed.publicIds[i]}`,
    signal: opts.signal,
    onTick: (sec, rec) => {
      if (sec > 0 && sec % 5 === 0) {
        const s = rec.series();
        const last = s.rps.length >= 2 ? s.rps[s.rps.length - 2]! : 0;
        const p95 = s.p95.length >= 2 ? s.p95[s.p95.length - 2] : null;
        log(
          `  ${sec}/${Math.round(total / 1000)} s: ${rec.count} requests, ${last}/s, p95 ${p95 === null || p95 === undefined ? '-' : `${p95.toFixed(1)} ms`}`,
        );
      }
    },
  });
  const watched = await monitor.stop();
  const rec = engine.recorder;
  const results = evaluateThresholds(thresholds, rec);
  log(`load done: ${rec.count} requests in ${(rec.endMs / 1000).toFixed(1)} s; waiting for reconciliation`);
  const reconciliation = await awaitReconciliation(opts.baseUrl, seed.couponId, opts.adminToken, opts.reconcileTimeoutMs ?? 120_000);

  const failures: string[] = [];
  for (const r of results) if (!r.ok) failures.push(`threshold ${r.key}: ${r.expression} (actual ${round(r.actual, 3)})`);
  if (!reconciliation.ok) failures.push(`reconciliation: ${reconciliation.reason}`);
  if (engine.aborted) failures.push(`aborted: ${engine.aborted}`);
  const accepted = Object.entries(rec.outcomeTotals())
    .filter(([k]) => k.startsWith('202'))
    .reduce((a, [, n]) => a + n, 0);
  if (accepted > coupon.remaining) failures.push(`${accepted} requests were accepted but only ${coupon.remaining} units were left`);

  const byScenario: Record<string, MetricSummary> = {};
  for (const s of scenarios) byScenario[s.name] = roundMetrics(rec.metrics({ scenario: s.name }));
  const shift = <T extends { t: number }>(p: T): T => ({ ...p, t: round(p.t - offset, 2) });
  return {
    scenario: opts.scenario,
    description: file.description,
    file: scenarioPath(opts.scenario),
    startedAt: engine.startedAt,
    durationS: round(rec.endMs / 1000),
    baseUrl: opts.baseUrl,
    couponId: seed.couponId,
    usersFile: opts.usersFile,
    usersSeeded: seed.publicIds.length,
    usersNeeded: needed,
    machine: machineInfo(),
    metrics: roundMetrics(rec.metrics()),
    byScenario,
    outcomes: rec.outcomeTotals(),
    thresholds: results.map((r) => ({ ...r, actual: round(r.actual, 4) })),
    reconciliation,
    couponAtStart: { totalQuantity: coupon.totalQuantity, remaining: coupon.remaining, issuedCount: coupon.issuedCount },
    generator: {
      connections: engine.connections,
      interrupted: engine.interrupted,
      aborted: engine.aborted,
      startLagMs: {
        ...engine.startLagMs,
        p50: round(engine.startLagMs.p50),
        p99: round(engine.startLagMs.p99),
        max: round(engine.startLagMs.max),
      },
    },
    definition: { scenarios: file.scenarios, thresholds: file.thresholds, plan: file.plan, stock: file.stock },
    series: roundSeries(rec.series()),
    stock: watched.stock.map(shift),
    lag: watched.lag ? watched.lag.map(shift) : null,
    lagNote: watched.lagNote,
    passed: failures.length === 0,
    failures,
  };
}

function roundSeries(s: Series): Series {
  const r = (a: (number | null)[]) => a.map((v) => (v === null ? null : round(v)));
  return { ...s, p50: r(s.p50), p95: r(s.p95), p99: r(s.p99) };
}

/** Writes summary.json and report.html into `dir`; returns their paths. */
export function writeOutputs(summary: LoadTestSummary, dir: string): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'summary.json');
  const html = join(dir, 'report.html');
  writeFileSync(json, `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(html, renderReport(summary));
  return { json, html };
}
