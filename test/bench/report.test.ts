import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { BENCHMARKS_PAGE, renderBenchmarks, renderFromFile } from '../../bench/report.ts';

const machine = { cpuModel: 'Test CPU', cpus: 2, memoryGiB: 8, node: 'v24.0.0', platform: 'linux x64', commit: 'abc123', uncommitted: [], loadavg: [0.5, 0.4, 0.3] };

describe('docs/benchmarks.md (npm run bench:report)', () => {
  it('is what the command writes from the committed bench/results.json', () => {
    assert.equal(readFileSync(BENCHMARKS_PAGE, 'utf8'), renderFromFile(), 'docs/benchmarks.md is stale or edited by hand: run `npm run bench:report`');
  });

  it('gives each bench case its latest figures and its range per machine', () => {
    const row = (rps: number, p99: number) => ({ case: '(a) bare Fastify route', requests: 100, rps, p50: 1, p95: 2, p99, max: 9, serverCpuUsPerReq: 20, outcomes: { '202 ACCEPTED': 100 }, rpsVsCeiling: 1 });
    const page = renderBenchmarks({
      runs: [
        { at: '2030-01-02T00:00:00.000Z', machine, rows: [row(2_000, 7)], targets: {} },
        { at: '2030-01-01T00:00:00.000Z', machine, rows: [row(1_500, 5)], targets: {} },
        { at: '2030-01-03T00:00:00.000Z', machine: { ...machine, cpuModel: 'Other CPU' }, rows: [row(9_000, 3)], targets: {} },
      ],
    });
    assert.match(page, /### Latest run: 2030-01-03 00:00/);
    assert.match(page, /\| \(a\) bare Fastify route \| 100 \| 9,000 \| 1 \| 2 \| 3 \|/);
    assert.match(page, /\| \(a\) bare Fastify route \| Test CPU × 2, 8 GiB \| 2 \| 1,500–2,000 \| 1 \| 2 \| 5–7 \|/);
    assert.match(page, /\| \(a\) bare Fastify route \| Other CPU × 2, 8 GiB \| 1 \| 9,000 \|/);
  });

  it('lists records of kinds it does not know, every figure with its latest value and range', () => {
    const spike = (at: string, p99: number, shed: number) => ({ bench: 'spike', at, note: 'n', machine, phases: [{ name: 'burst', p99, ok: true }], shed, profile: [{ top: 'big' }] });
    const page = renderBenchmarks({ runs: [spike('2030-01-01T00:00:00Z', 15, 40), spike('2030-01-02T00:00:00Z', 12, 1_200)] });
    assert.match(page, /## `spike` records/);
    assert.match(page, /\| phases\[burst\]\.p99 \| 12 \| 12–15 \|/);
    assert.match(page, /\| shed \| 1,200 \| 40–1,200 \|/);
    assert.match(page, /\| phases\[burst\]\.ok \| yes \| – \|/);
    assert.doesNotMatch(page, /profile|big/);
    assert.doesNotMatch(page, /npm run bench` \(bench\/run\.ts\)/);
  });

  it('says so when nothing is recorded', () => {
    assert.match(renderBenchmarks({ runs: [] }), /No runs recorded yet\./);
  });
});
