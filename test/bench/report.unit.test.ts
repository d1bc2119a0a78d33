import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { BENCHMARKS_PAGE, renderBenchmarks, renderFromFile } from '../../bench/report.ts';

const machine = {
  cpuModel: 'Test CPU',
  cpus: 2,
  memoryGiB: 8,
  node: 'v24.0.0',
  platform: 'linux x64',
  commit: 'abc123',
  uncommitted: [],
  loadavg: [0.5, 0.4, 0.3],
};

describe('docs/benchmarks.md (npm run bench:report)', () => {
  it('is what the command writes from the committed bench/results.json', () => {
    assert.equal(
      readFileSync(BENCHMARKS_PAGE, 'utf8'),
      renderFromFile(),
      'docs/benchmarks.md is stale or edited by hand: run `npm run bench:report`',
    );
  });

  it('gives each bench case its latest figures and its range per machine', () => {
    const row = (rps: number, p99: number) => ({
      case: '(a) bare Fastify route',
      requests: 100,
      rps,
      p50: 1,
      p95: 2,
      p99,
      max: 9,
      serverCpuUsPerReq: 20,
      outcomes: { '202 ACCEPTED': 100 },
      rpsVsCeiling: 1,
    });
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

  it("compares each case's CPU with the bare route's, in each run, even when the generator limited the ceiling", () => {
    const row = (name: string, serverCpuUsPerReq: number, cpuVsCeiling?: number) => ({
      case: name,
      requests: 100,
      rps: 1_000,
      p50: 1,
      p95: 2,
      p99: 3,
      max: 9,
      serverCpuUsPerReq,
      outcomes: {},
      cpuVsCeiling,
    });
    const page = renderBenchmarks({
      runs: [
        {
          at: '2030-01-01T00:00:00.000Z',
          machine,
          rows: [
            row('(a) bare Fastify route', 20, 1),
            row('(b) issue route, admitted', 80, 0.25),
            row('(c) issue route, sold out', 25, 0.8),
          ],
          targets: {},
        },
      ],
    });
    assert.match(page, /\| \(b\) issue route, admitted \| 100 \| 1,000 \| 1 \| 2 \| 3 \| 9 \| 80 \| – \| 0\.25 \|/);
    assert.match(page, /\| 2030-01-01 00:00 \| abc123 \| Test CPU × 2, 8 GiB \| 0\.5 0\.4 0\.3 \| – \| – \| – \| 0\.8 \/ 0\.25 \|/);
  });

  it('lists records of kinds it does not know, every figure with its latest value and range', () => {
    const soak = (at: string, p99: number, shed: number) => ({
      bench: 'soak',
      at,
      note: 'n',
      machine,
      phases: [{ name: 'burst', p99, ok: true }],
      shed,
      profile: [{ top: 'big' }],
    });
    const page = renderBenchmarks({ runs: [soak('2030-01-01T00:00:00Z', 15, 40), soak('2030-01-02T00:00:00Z', 12, 1_200)] });
    assert.match(page, /## `soak` records/);
    assert.match(page, /\| phases\[burst\]\.p99 \| 12 \| 12–15 \|/);
    assert.match(page, /\| shed \| 1,200 \| 40–1,200 \|/);
    assert.match(page, /\| phases\[burst\]\.ok \| yes \| – \|/);
    assert.doesNotMatch(page, /profile|big/);
    assert.doesNotMatch(page, /npm run bench` \(bench\/run\.ts\)/);
  });

  it('gives the spike its table: each load beside the unshed API, with its ratio to 64 clients', () => {
    const row = (settings: string, clients: number, acceptedPerSecond: number, refused503: number) => ({
      settings,
      load: `closed ${clients}`,
      closed: true,
      clients,
      rate: 0,
      acceptedPerSecond,
      refused503,
      other: {},
      p50: 10,
      p99: 150,
      refusedP50: '-',
      generatorCores: 0.2,
      control: { in_flight_limit: { median: 700, max: 900 } },
    });
    const page = renderBenchmarks({
      runs: [
        {
          bench: 'spike',
          at: '2030-01-03T00:00:00Z',
          machine,
          seconds: 8,
          users: 20_000,
          split: true,
          capacity: 9_000,
          misses: ['closed 2000: 202 p99 250 ms'],
          rows: [row('current', 64, 3_000, 0), row('current', 2_000, 2_850, 120), row('MAX_IN_FLIGHT=0', 64, 3_100, 0)],
        },
      ],
    });
    assert.match(page, /## `npm run bench:spike`/);
    assert.match(page, /\| closed, 2,000 clients \| current \| 2,850 \| 0\.95 \| 0\.32 \| 120 \|/);
    assert.match(page, /- closed 2000: 202 p99 250 ms/);
    assert.match(page, /\| 3,000 \/ – \/ – \/ 2,850 \| – \/ – \/ 120 \| 1 \| – \|/);
  });

  it('turns the capacity run and the latest bench CPU into what 1,000,000 requests/s would need', () => {
    const page = renderBenchmarks({
      runs: [
        {
          at: '2026-12-01T10:00:00.000Z',
          machine,
          rows: [
            { case: '(b) issue route, admitted', serverCpuUsPerReq: 200 },
            { case: '(c) issue route, sold out', serverCpuUsPerReq: 50 },
          ],
        },
        {
          bench: 'capacity',
          at: '2026-12-02T10:00:00.000Z',
          machine,
          seconds: 5,
          redis: [
            {
              batch: 1,
              callers: 8,
              admissionsPerSecond: 20_000,
              scriptCallsPerSecond: 20_000,
              redisCores: 0.9,
              admissionsPerRedisCoreSecond: 22_222,
            },
            {
              batch: 64,
              callers: 8,
              admissionsPerSecond: 125_000,
              scriptCallsPerSecond: 1_953,
              redisCores: 0.95,
              admissionsPerRedisCoreSecond: 131_579,
            },
          ],
          kafka: [{ publishers: 64, eventsPerSecond: 40_000, eventBytes: 230 }],
        },
      ],
    });
    assert.match(page, /## `npm run bench:capacity`/);
    assert.match(page, /\| batches of 64, 8 callers \| 125,000 \| 1,953 \| 0\.95 \| 131,579 \|/);
    assert.match(page, /\| API core, requests answered sold out \| 20000 req\/s \(50 µs CPU each\) \| 50 cores \|/);
    assert.match(page, /\| API core, requests admitted \| 5000 req\/s \(200 µs CPU each\) \| 200 cores \|/);
    assert.match(page, /\| Redis master, admissions of one coupon \| 125000 \/s \| 8 masters/);
    assert.match(page, /\| Kafka partition, issue events \| 40000 \/s \| 25 partitions \|/);
  });

  it("shows where the admitted row's round trip went, and nothing of it for a run that did not measure it", () => {
    const time = {
      roundTripMs: 6.28,
      serverMs: 5.16,
      queueWaitMs: 0.31,
      batchMs: 3.34,
      batchSize: 27.8,
      redisScriptMs: 1.7,
      kafkaSendMs: 1.27,
      restMs: 1.51,
      loopBoundRps: 10_189,
      machineBusy: 0.72,
    };
    const row = {
      case: '(b) issue route, admitted',
      key: 'b',
      requests: 100,
      rps: 10_165,
      p50: 5,
      p95: 9,
      p99: 12,
      max: 20,
      outcomes: {},
      time,
    };
    const page = renderBenchmarks({ runs: [{ at: '2030-01-01T00:00:00.000Z', machine, rows: [row], targets: {} }] });
    assert.match(page, /\| round trip, as the generator saw it \| 6\.28 \|/);
    assert.match(page, /\| its batch's work in the worker \(27\.8 requests a batch\) \| 3\.34 \|/);
    assert.match(page, /\| the rest in the server: thread hops, HTTP \| 1\.51 \|/);
    assert.match(page, /\| connections ÷ round trip \(req\/s\) \| 10,189 \|/);
    assert.match(page, /\| machine's cores busy meanwhile \(%\) \| 72 \|/);
    const without = renderBenchmarks({
      runs: [{ at: '2030-01-01T00:00:00.000Z', machine, rows: [{ ...row, time: undefined }], targets: {} }],
    });
    assert.doesNotMatch(without, /round trip, as the generator saw it/);
  });

  it("gives each refusal server its rounds, and its median over the runs at the latest run's rate", () => {
    const server = (name: string, ...cpuUs: number[]) => ({
      name,
      rounds: cpuUs.map((us) => ({ cpuUs: us, threadsUs: { MainThread: us - 1 }, generatorCores: 0.6 })),
    });
    const run = (at: string, rate: number, floor: number[], api: number[]) => ({
      bench: 'refusal',
      at,
      machine,
      arrivalsPerSecond: rate,
      connections: 4_000,
      seconds: 6,
      servers: [server('floor: Node HTTP answering 503', ...floor), server("the API's intake", ...api)],
    });
    const page = renderBenchmarks({
      runs: [
        run('2030-01-01T00:00:00.000Z', 30_000, [20, 22], [30, 31]),
        run('2030-01-02T00:00:00.000Z', 8_000, [90, 90], [99, 99]),
        run('2030-01-03T00:00:00.000Z', 30_000, [24, 26], [33, 35]),
      ],
    });
    assert.match(page, /## `npm run bench:refusal`/);
    assert.match(page, /3 recorded runs, the latest 2030-01-03 00:00 \(UTC\): 30,000 arrivals\/s over 4,000 connections/);
    // The 8,000/s run is another rate: its figures are in no median.
    assert.match(page, /\| floor: Node HTTP answering 503 \| 24, 26 \| 23, 25 \| 0.6, 0.6 \| 22 \|/);
    assert.match(page, /\| the API's intake \| 33, 35 \| 32, 34 \| 0.6, 0.6 \| 31 \|/);
  });

  it('says so when nothing is recorded', () => {
    assert.match(renderBenchmarks({ runs: [] }), /No runs recorded yet\./);
  });
});
