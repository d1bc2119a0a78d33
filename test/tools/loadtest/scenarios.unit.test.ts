import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadScenarioFile, resolveScenarios, testDurationMs, usersNeeded, validateScenarioFile } from '../../../tools/loadtest/scenario.ts';
import { arrivalCount } from '../../../tools/loadtest/schedule.ts';
import { parseThresholds } from '../../../tools/loadtest/thresholds.ts';

const DIR = new URL('../../../k6/scenarios/', import.meta.url);

describe('scenario files (k6/scenarios/*.json)', () => {
  it('has the four profiles, each valid for the runner, with thresholds it can evaluate', () => {
    const names = readdirSync(DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''))
      .sort();
    assert.deepEqual(names, ['event-opening', 'four-stage', 'quick', 'smoke-ci']);
    for (const name of names) {
      const file = loadScenarioFile(name);
      assert.ok(parseThresholds(file.thresholds).length > 0, name);
      // Every scenario has room for its requests: an upper bound of iterations fits its users.
      for (const s of resolveScenarios(file)) {
        let bound: number;
        if (s.kind === 'arrival') bound = arrivalCount(s.startValue, s.stages, s.timeUnitMs);
        else {
          // VUs × (one immediate iteration + one per think time), integrated over the stages.
          let area = 0;
          let from = s.startValue;
          for (const st of s.stages) {
            area += ((from + st.target) / 2) * st.durationMs;
            from = st.target;
          }
          const peak = Math.max(s.startValue, ...s.stages.map((st) => st.target));
          bound = s.thinkMs > 0 ? area / s.thinkMs + peak : Infinity;
        }
        assert.ok(bound <= s.users, `${name}/${s.name}: up to ${Math.ceil(bound)} iterations, ${s.users} users`);
      }
    }
  });

  it("holds the issue's profiles", () => {
    const quick = resolveScenarios(loadScenarioFile('quick'));
    assert.equal(quick[0]!.executor, 'constant-vus');
    assert.equal(quick[0]!.startValue, 50);
    assert.equal(quick[0]!.durationMs, 10_000);

    const four = loadScenarioFile('four-stage');
    const [smoke, load, stress, spike] = resolveScenarios(four);
    assert.deepEqual([smoke!.name, smoke!.startValue, smoke!.durationMs], ['smoke', 10, 30_000]);
    assert.deepEqual(
      [load!.name, load!.startValue, load!.stages.map((s) => s.target), load!.durationMs],
      ['load', 0, [50, 100, 0], 120_000],
    );
    assert.deepEqual(
      [stress!.name, stress!.startValue, stress!.stages.map((s) => s.target), stress!.durationMs],
      ['stress', 100, [200, 300, 0], 300_000],
    );
    assert.deepEqual(
      [spike!.name, spike!.stages.map((s) => [s.durationMs, s.target])],
      [
        'spike',
        [
          [10_000, 500],
          [30_000, 500],
          [10_000, 0],
        ],
      ],
    );
    // They run one after another.
    assert.ok(smoke!.startMs + smoke!.durationMs <= load!.startMs);
    assert.ok(load!.startMs + load!.durationMs <= stress!.startMs);
    assert.ok(stress!.startMs + stress!.durationMs <= spike!.startMs);
    assert.deepEqual(four.thresholds['http_req_duration{scenario:load}'], ['p(95)<1000']);
    assert.deepEqual(four.thresholds['http_req_failed{scenario:load}'], ['rate<0.05']);
    assert.deepEqual(four.thresholds['http_req_duration{scenario:spike}'], ['p(95)<2000']);

    const opening = loadScenarioFile('event-opening');
    const [o] = resolveScenarios(opening);
    assert.equal(o!.executor, 'ramping-arrival-rate');
    assert.equal(o!.startValue, 0);
    assert.deepEqual(o!.stages[0], { durationMs: 5_000, target: 2_000 });
    assert.deepEqual(opening.thresholds['http_req_duration{scenario:opening}'], ['p(95)<50', 'p(99)<150']);
    assert.deepEqual(opening.thresholds['http_5xx{scenario:opening}'], ['count==0']);

    const ci = resolveScenarios(loadScenarioFile('smoke-ci'));
    const length = testDurationMs(ci);
    assert.ok(length >= 10_000 && length <= 15_000, `smoke-ci lasts ${length} ms`);
  });

  it('gives each scenario its own slice of the seeded users, in file order (as k6/fcfs.ts computes them)', () => {
    const file = loadScenarioFile('four-stage');
    const resolved = resolveScenarios(file);
    let offset = 0;
    for (const s of resolved) {
      assert.equal(s.userOffset, offset);
      offset += s.users;
    }
    assert.equal(usersNeeded(file), offset);
    // k6/fcfs.ts walks Object.keys(def.scenarios) the same way.
    assert.match(
      readFileSync(new URL('../../../k6/fcfs.ts', import.meta.url), 'utf8'),
      /for \(const name of Object\.keys\(def\.scenarios\)\)/,
    );
  });

  it('refuses malformed files with the place of the mistake', () => {
    const base = JSON.parse(readFileSync(new URL('smoke-ci.json', DIR), 'utf8'));
    const bad = (mutate: (f: any) => void) => {
      const f = structuredClone(base);
      mutate(f);
      return () => validateScenarioFile(f, 'f');
    };
    assert.throws(
      bad((f) => delete f.plan.vus),
      /scenario vus: has no entry in "plan"/,
    );
    assert.throws(
      bad((f) => (f.scenarios.vus.executor = 'externally-controlled')),
      /executor must be one of/,
    );
    assert.throws(
      bad((f) => (f.scenarios.arrivals.stages[0].duration = '5 seconds')),
      /stages\[0\]\.duration/,
    );
    assert.throws(
      bad((f) => (f.plan.arrivals.thinkTime = '1s')),
      /thinkTime applies to VU executors only/,
    );
    assert.throws(
      bad((f) => (f.scenarios.arrivals.maxVUs = 1)),
      /maxVUs must be >= preAllocatedVUs/,
    );
    assert.throws(
      bad((f) => (f.plan.ghost = { users: 1 })),
      /plan names "ghost"/,
    );
  });
});
