/**
 * The scenario files under k6/scenarios/: the one description of a load profile that both k6
 * (k6/fcfs.ts) and the local runner (`npm run loadtest`) read. `scenarios` and `thresholds` are
 * k6's own option objects, verbatim; `stock` and `plan` say what to seed and how each scenario
 * uses the seeded users (every request takes a user no other request has used).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseDuration } from './duration.ts';

export type Executor = 'constant-vus' | 'ramping-vus' | 'constant-arrival-rate' | 'ramping-arrival-rate' | 'shared-iterations';
export const EXECUTORS: readonly Executor[] = [
  'constant-vus',
  'ramping-vus',
  'constant-arrival-rate',
  'ramping-arrival-rate',
  'shared-iterations',
];

export interface Stage {
  duration: string;
  target: number;
}

/** A k6 scenario object (https://grafana.com/docs/k6/latest/using-k6/scenarios/), the fields the runner reads. */
export interface K6Scenario {
  executor: Executor;
  startTime?: string;
  gracefulStop?: string;
  vus?: number;
  duration?: string;
  startVUs?: number;
  stages?: Stage[];
  gracefulRampDown?: string;
  rate?: number;
  startRate?: number;
  timeUnit?: string;
  preAllocatedVUs?: number;
  maxVUs?: number;
  iterations?: number;
  maxDuration?: string;
  tags?: Record<string, string>;
}

export type ThresholdSpec = string | { threshold: string; abortOnFail?: boolean; delayAbortEval?: string };

export interface ScenarioPlan {
  /** Seeded users reserved for this scenario, in the order of `scenarios`: each request uses a fresh one. */
  users: number;
  /** A VU's pause after each request (VU executors only), like k6's sleep(). */
  thinkTime?: string;
}

export interface ScenarioFile {
  description: string;
  /** Units of the coupon to seed (`npm run seed -- --users <sum of plan users> --stock <stock>`). */
  stock: number;
  plan: Record<string, ScenarioPlan>;
  scenarios: Record<string, K6Scenario>;
  thresholds: Record<string, ThresholdSpec[]>;
}

/** A scenario with every duration in milliseconds and its users' slice of the seed file. */
export interface ResolvedScenario {
  name: string;
  executor: Executor;
  /** Closed model (VUs loop) or open model (iterations start on a clock), or a fixed count shared by VUs. */
  kind: 'vus' | 'arrival' | 'iterations';
  startMs: number;
  /** Length of the schedule (stages, duration or maxDuration), without the graceful stop. */
  durationMs: number;
  gracefulStopMs: number;
  /** VUs (kind vus) or iterations per timeUnit (kind arrival) at the start... */
  startValue: number;
  /** ...then linear ramps to each stage's target. */
  stages: { durationMs: number; target: number }[];
  timeUnitMs: number;
  preAllocatedVUs: number;
  maxVUs: number;
  /** shared-iterations: VUs and the iteration count. */
  vus: number;
  iterations: number;
  thinkMs: number;
  userOffset: number;
  users: number;
}

const SCENARIO_DIR = new URL('../../k6/scenarios/', import.meta.url);

/** A scenario by name (k6/scenarios/NAME.json) or by path. */
export function scenarioPath(nameOrPath: string): string {
  if (nameOrPath.endsWith('.json') || nameOrPath.includes('/')) return nameOrPath;
  return new URL(`${nameOrPath}.json`, SCENARIO_DIR).pathname;
}

export function loadScenarioFile(nameOrPath: string): ScenarioFile {
  const path = scenarioPath(nameOrPath);
  if (!existsSync(path)) throw new Error(`no scenario file ${path}`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not JSON: ${(err as Error).message}`);
  }
  validateScenarioFile(data, path);
  return data;
}

function fail(where: string, message: string): never {
  throw new Error(`${where}: ${message}`);
}

function posInt(v: unknown, where: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(where, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function duration(v: unknown, where: string): number {
  if (typeof v !== 'string') fail(where, `must be a duration string like "30s", got ${JSON.stringify(v)}`);
  try {
    return parseDuration(v);
  } catch (err) {
    fail(where, (err as Error).message);
  }
}

export function validateScenarioFile(data: unknown, where = 'scenario'): asserts data is ScenarioFile {
  if (typeof data !== 'object' || data === null) fail(where, 'must be a JSON object');
  const f = data as Partial<ScenarioFile>;
  if (typeof f.description !== 'string') fail(where, '"description" must be a string');
  posInt(f.stock, `${where}: stock`);
  if (typeof f.scenarios !== 'object' || f.scenarios === null || Object.keys(f.scenarios).length === 0)
    fail(where, '"scenarios" must name at least one scenario');
  if (typeof f.plan !== 'object' || f.plan === null) fail(where, '"plan" must give each scenario its users');
  if (typeof f.thresholds !== 'object' || f.thresholds === null) fail(where, '"thresholds" must be an object (k6 thresholds)');
  for (const name of Object.keys(f.plan)) if (!(name in f.scenarios)) fail(where, `plan names "${name}", which is not a scenario`);
  for (const [name, s] of Object.entries(f.scenarios)) {
    const w = `${where}: scenario ${name}`;
    if (!/^[A-Za-z0-9_-]+$/.test(name)) fail(w, 'names may use letters, digits, - and _');
    const plan = f.plan[name];
    if (!plan) fail(w, 'has no entry in "plan"');
    posInt(plan.users, `${w}: plan users`);
    if (plan.thinkTime !== undefined) duration(plan.thinkTime, `${w}: plan thinkTime`);
    resolveOne(name, s, plan, 0, w);
  }
  for (const [metric, list] of Object.entries(f.thresholds)) {
    if (!Array.isArray(list) || list.length === 0) fail(where, `thresholds.${metric} must be a non-empty array`);
  }
}

function resolveOne(name: string, s: K6Scenario, plan: ScenarioPlan, userOffset: number, w: string): ResolvedScenario {
  if (!EXECUTORS.includes(s.executor)) fail(w, `executor must be one of ${EXECUTORS.join(', ')}, got ${JSON.stringify(s.executor)}`);
  const base = {
    name,
    executor: s.executor,
    startMs: s.startTime === undefined ? 0 : duration(s.startTime, `${w}: startTime`),
    gracefulStopMs: s.gracefulStop === undefined ? 30_000 : duration(s.gracefulStop, `${w}: gracefulStop`),
    timeUnitMs: 1_000,
    preAllocatedVUs: 0,
    maxVUs: 0,
    vus: 0,
    iterations: 0,
    thinkMs: plan.thinkTime === undefined ? 0 : parseDuration(plan.thinkTime),
    userOffset,
    users: plan.users,
  };
  const stagesOf = (list: unknown): { durationMs: number; target: number }[] => {
    if (!Array.isArray(list) || list.length === 0) fail(w, 'stages must be a non-empty array');
    return list.map((st: Stage, i) => ({
      durationMs: duration(st.duration, `${w}: stages[${i}].duration`),
      target: posInt(st.target, `${w}: stages[${i}].target`, 0),
    }));
  };
  const total = (stages: { durationMs: number }[]) => stages.reduce((a, st) => a + st.durationMs, 0);
  switch (s.executor) {
    case 'constant-vus': {
      const vus = posInt(s.vus ?? 1, `${w}: vus`);
      const d = duration(s.duration, `${w}: duration`);
      return { ...base, kind: 'vus', durationMs: d, startValue: vus, stages: [{ durationMs: d, target: vus }] };
    }
    case 'ramping-vus': {
      const stages = stagesOf(s.stages);
      return { ...base, kind: 'vus', durationMs: total(stages), startValue: posInt(s.startVUs ?? 1, `${w}: startVUs`, 0), stages };
    }
    case 'constant-arrival-rate':
    case 'ramping-arrival-rate': {
      if (plan.thinkTime !== undefined) fail(w, 'thinkTime applies to VU executors only (arrival-rate iterations start on a clock)');
      const timeUnitMs = s.timeUnit === undefined ? 1_000 : duration(s.timeUnit, `${w}: timeUnit`);
      if (timeUnitMs <= 0) fail(w, 'timeUnit must be positive');
      const preAllocatedVUs = posInt(s.preAllocatedVUs, `${w}: preAllocatedVUs`);
      const maxVUs = s.maxVUs === undefined ? preAllocatedVUs : posInt(s.maxVUs, `${w}: maxVUs`);
      if (maxVUs < preAllocatedVUs) fail(w, 'maxVUs must be >= preAllocatedVUs');
      // A constant rate is one stage at that rate from the start.
      let startValue: number;
      let stages: { durationMs: number; target: number }[];
      if (s.executor === 'constant-arrival-rate') {
        startValue = posInt(s.rate, `${w}: rate`);
        stages = [{ durationMs: duration(s.duration, `${w}: duration`), target: startValue }];
      } else {
        startValue = posInt(s.startRate ?? 0, `${w}: startRate`, 0);
        stages = stagesOf(s.stages);
      }
      return { ...base, kind: 'arrival', timeUnitMs, preAllocatedVUs, maxVUs, durationMs: total(stages), startValue, stages };
    }
    case 'shared-iterations': {
      const vus = posInt(s.vus ?? 1, `${w}: vus`);
      const iterations = posInt(s.iterations ?? 1, `${w}: iterations`);
      const d = s.maxDuration === undefined ? 600_000 : duration(s.maxDuration, `${w}: maxDuration`);
      return { ...base, kind: 'iterations', vus, iterations, durationMs: d, startValue: vus, stages: [{ durationMs: d, target: vus }] };
    }
  }
}

/** Every scenario of a file, resolved, with consecutive slices of the seeded users in the file's order. */
export function resolveScenarios(file: ScenarioFile): ResolvedScenario[] {
  let offset = 0;
  return Object.entries(file.scenarios).map(([name, s]) => {
    const r = resolveOne(name, s, file.plan[name]!, offset, `scenario ${name}`);
    offset += r.users;
    return r;
  });
}

/** How many users the seed file must hold: the sum of the plan's slices. */
export function usersNeeded(file: ScenarioFile): number {
  return Object.values(file.plan).reduce((a, p) => a + p.users, 0);
}

/** When the last scenario's schedule ends (graceful stops not counted). */
export function testDurationMs(scenarios: ResolvedScenario[]): number {
  return Math.max(0, ...scenarios.map((s) => s.startMs + s.durationMs));
}
