/**
 * `npm run bench:report`: writes docs/benchmarks.md from bench/results.json, the only place figures
 * are written down. Run it after a benchmark has appended its record; test/bench/report.unit.test.ts
 * fails while the committed page differs from what this would write.
 *
 * The records of `npm run bench` (bench/run.ts; no "bench" field) get tables of their cases: the
 * latest run's figures and, per machine, the range over every recorded run. Records of any other
 * kind ("bench": "<name>") are listed generically, each scalar field with its latest value and its
 * range, so a new benchmark shows up without a change here.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { markdownTable } from 'markdown-table';
import { lowerMedian } from '../tools/loadtest/stats.ts';

const RESULTS = new URL('./results.json', import.meta.url);
const PAGE = new URL('../docs/benchmarks.md', import.meta.url);

type Obj = Record<string, unknown>;

interface Machine {
  cpuModel?: string;
  cpus?: number;
  memoryGiB?: number;
  node?: string;
  platform?: string;
  commit?: string;
  uncommitted?: string[];
  loadavg?: number[];
}

interface Record_ extends Obj {
  bench?: string;
  at?: string;
  note?: string;
  machine?: Machine;
}

/** Fields that describe a run rather than measure it, or are too large for a table. */
const NOT_FIGURES = new Set(['bench', 'at', 'note', 'machine', 'profile']);

const grouping = new Intl.NumberFormat('en-US', { maximumFractionDigits: 6 });

function cell(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return Number.isFinite(v) ? grouping.format(v) : String(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return JSON.stringify(v).replace(/\|/g, '\\|');
}

function table(head: string[], rows: unknown[][]): string {
  // Unpadded: a new run changes only its own lines of the page.
  return markdownTable([head, ...rows.map((r) => r.map(cell))], { alignDelimiters: false });
}

function range(values: unknown[]): string {
  const nums = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (nums.length === 0) return '–';
  const lo = Math.min(...nums);
  const hi = Math.max(...nums);
  return lo === hi ? cell(lo) : `${cell(lo)}–${cell(hi)}`;
}

function machineName(m: Machine | undefined): string {
  if (!m) return 'unknown machine';
  return `${m.cpuModel ?? 'unknown CPU'} × ${m.cpus ?? '?'}, ${m.memoryGiB ?? '?'} GiB`;
}

function machineLine(m: Machine | undefined): string {
  if (!m) return 'machine not recorded';
  const extra = [
    m.node && `Node ${m.node}`,
    m.platform,
    m.commit && `commit ${m.commit}${m.uncommitted?.length ? ` with uncommitted changes (${m.uncommitted.join(', ')})` : ''}`,
    m.loadavg?.length && `load average ${m.loadavg.join(' ')} at the start`,
  ].filter(Boolean);
  return [machineName(m), ...extra].join(', ');
}

const day = (r: Record_) => (r.at ?? '').slice(0, 16).replace('T', ' ') || 'undated';

/** Scalar leaves of a record as [path, value]: arrays of objects by their "case" or "name" when they have one. */
export function flatten(value: unknown, path = ''): [string, unknown][] {
  if (value === null || typeof value !== 'object') return [[path, value]];
  const out: [string, unknown][] = [];
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) return [[path, value.map(cell).join(', ')]];
    value.forEach((v, i) => {
      const key = v && typeof v === 'object' && !Array.isArray(v) ? ((v as Obj).case ?? (v as Obj).name) : undefined;
      out.push(...flatten(v, `${path}[${typeof key === 'string' ? key : i}]`));
    });
    return out;
  }
  for (const [k, v] of Object.entries(value)) {
    if (path === '' && NOT_FIGURES.has(k)) continue;
    out.push(...flatten(v, path ? `${path}.${k}` : k));
  }
  return out;
}

const RUN_COLUMNS: [string, string][] = [
  ['requests', 'requests'],
  ['rps', 'req/s'],
  ['p50', 'p50 ms'],
  ['p95', 'p95 ms'],
  ['p99', 'p99 ms'],
  ['max', 'max ms'],
  ['serverCpuUsPerReq', 'server µs/req'],
  ['rpsVsCeiling', 'req/s ÷ (a)'],
  ['cpuVsCeiling', "(a)'s CPU ÷ this row's"],
  ['drainLagMs', 'every row in, after the last answer (ms)'],
];

/** A run's sold-out and admitted rows' CPU ratios to the bare route, as "0.71 / 0.26". */
function byCpu(run: Record_): string | undefined {
  const rows = Array.isArray(run.rows) ? (run.rows as Obj[]) : [];
  const of = (prefix: string) => rows.find((row) => String(row.case).startsWith(prefix))?.cpuVsCeiling;
  const soldOut = of('(c)');
  const admitted = of('(b)');
  return soldOut == null && admitted == null ? undefined : `${cell(soldOut)} / ${cell(admitted)}`;
}

/** Where the admitted row's round trip went, when the run measured it (bench/run.ts's AdmittedTime). */
function admittedTime(rows: Obj[]): string | undefined {
  // Runs that measure it mark each row with its case (Row.key).
  const row = rows.find((r) => r.key === 'b');
  const t = row?.time as Obj | undefined;
  if (!t) return undefined;
  return [
    "Where (b)'s time went, means over its measured requests (ms) from the API's own histograms beside the generator's: a closed loop answers one request per connection per round trip, so its rate is its connections over the round trip, whatever the cores have left.",
    '',
    table(
      ['part', 'ms'],
      [
        ['round trip, as the generator saw it', t.roundTripMs],
        ['in the server (Fastify, to the 202)', t.serverMs],
        ['waiting for its shard worker', t.queueWaitMs],
        [`its batch's work in the worker (${cell(t.batchSize)} requests a batch)`, t.batchMs],
        ['one Redis admission script, the fsync of its append-only file included', t.redisScriptMs],
        ['one Kafka send, until acknowledged (acks=all)', t.kafkaSendMs],
        ['the rest in the server: thread hops, HTTP', t.restMs],
        ['connections ÷ round trip (req/s)', t.loopBoundRps],
        ["machine's cores busy meanwhile (%)", typeof t.machineBusy === 'number' ? Math.round(t.machineBusy * 100) : undefined],
      ],
    ),
  ].join('\n');
}

function benchRuns(runs: Record_[]): string {
  const latest = runs.at(-1)!;
  const rowsOf = (r: Record_) => (Array.isArray(r.rows) ? (r.rows as Obj[]) : []);
  const cases = [...new Set(runs.flatMap((r) => rowsOf(r).map((row) => String(row.case))))];
  const machines = [...new Set(runs.map((r) => machineName(r.machine)))];
  const out: string[] = [];
  out.push('## `npm run bench` (bench/run.ts)');
  out.push('');
  out.push(`${runs.length} recorded runs, ${day(runs[0]!)} to ${day(latest)} (UTC).`);
  out.push(
    '(a) is the ceiling: a bare Fastify route on the same machine; "req/s ÷ (a)" compares each case with it in the same run, unless a generator above 70 % of its core limited either row. "(a)\'s CPU ÷ this row\'s" compares the server\'s CPU per request, which the generator does not limit: the throughput the case would reach beside the bare route if each had the cores to itself. Since 2026-12-05 a run measures (a)-(c) in rounds, a, b, c one after the other in each: a row is the round whose server CPU per request was the median, its ratios the median of the rounds\' own.',
  );
  out.push('');
  out.push(`### Latest run: ${day(latest)}${latest.note ? `, ${cell(latest.note)}` : ''}`);
  out.push('');
  out.push(`Machine: ${machineLine(latest.machine)}.`);
  out.push('');
  out.push(
    table(
      [
        'case',
        ...RUN_COLUMNS.map(([, h]) => h),
        "(a)'s CPU ÷ this row's, each round",
        'round',
        'server µs/req over the warm-up, by fifths',
        'generator % of its core',
        'answers',
      ],
      rowsOf(latest).map((row) => [
        row.case,
        ...RUN_COLUMNS.map(([k]) => row[k]),
        Array.isArray(row.cpuVsCeilingByRound) ? row.cpuVsCeilingByRound.map(cell).join(' ') : undefined,
        row.round,
        Array.isArray(row.warmupCpuUsPerReq) ? row.warmupCpuUsPerReq.map(cell).join(' → ') : undefined,
        row.generatorCpuPct,
        Object.entries((row.outcomes as Obj | undefined) ?? {})
          .map(([k, n]) => `${k}: ${cell(n)}`)
          .join(', '),
      ]),
    ),
  );
  const time = admittedTime(rowsOf(latest));
  if (time) out.push('', time);
  out.push('');
  out.push('### Range over the recorded runs, per machine');
  out.push('');
  const rangeRows: unknown[][] = [];
  for (const c of cases) {
    for (const m of machines) {
      const rows = runs.filter((r) => machineName(r.machine) === m).flatMap((r) => rowsOf(r).filter((row) => String(row.case) === c));
      if (rows.length === 0) continue;
      rangeRows.push([c, m, rows.length, ...RUN_COLUMNS.slice(1).map(([k]) => range(rows.map((row) => row[k])))]);
    }
  }
  out.push(table(['case', 'machine', 'runs', ...RUN_COLUMNS.slice(1).map(([, h]) => h)], rangeRows));
  out.push('');
  out.push('### Every run');
  out.push('');
  out.push(
    table(
      [
        'when (UTC)',
        'commit',
        'machine',
        'load avg at start',
        'warm-up requests',
        'sold out ÷ (a)',
        'admitted ÷ (a)',
        'sold out / admitted ÷ (a), by CPU',
        'opening p95 / p99 ms',
        'opening 5xx',
        'opening met',
        'note',
      ],
      runs.map((r) => {
        const t = (r.targets ?? {}) as { soldOutVsCeiling?: Obj; admittedVsCeiling?: Obj; eventOpening?: Obj | null };
        const o = t.eventOpening ?? undefined;
        return [
          day(r),
          r.machine?.commit,
          machineName(r.machine),
          r.machine?.loadavg?.join(' '),
          (r.settings as Obj | undefined)?.warmup,
          t.soldOutVsCeiling?.ratio,
          t.admittedVsCeiling?.ratio,
          byCpu(r),
          o ? `${cell(o.p95)} / ${cell(o.p99)}` : undefined,
          o?.fivexx,
          o?.ok,
          r.note,
        ];
      }),
    ),
  );
  return out.join('\n');
}

/** `npm run bench:spike`: the latest run's table, its misses, and one line per recorded run. */
/** One spike run's rows: each load and setting, with its ratios to the run's 64-client rate and capacity. */
function rowsTable(run: Record_): string {
  const rowsOf = (r: Record_) => (Array.isArray(r.rows) ? (r.rows as Obj[]) : []);
  const at64 = (settings: unknown) =>
    rowsOf(run).find((row) => row.settings === settings && row.closed === true && row.clients === 64)?.acceptedPerSecond as
      | number
      | undefined;
  const control = (row: Obj, key: string) => (row.control as Record<string, { median: number; max: number }> | undefined)?.[key];
  return table(
    [
      'load',
      'settings',
      '202/s',
      '÷ 64 clients',
      '÷ capacity',
      '503',
      'other',
      '202 p50 ms',
      '202 p99 ms',
      '503 p50 ms',
      'limit (median)',
      'held refusals (max)',
      'generator cores',
    ],
    rowsOf(run).map((row) => {
      const base = at64(row.settings);
      const other = Object.entries((row.other as Obj | undefined) ?? {})
        .map(([k, n]) => `${k}: ${cell(n)}`)
        .join(', ');
      return [
        row.closed ? `closed, ${cell(row.clients)} clients` : `open, ${cell(row.rate)}/s`,
        row.settings,
        row.acceptedPerSecond,
        row.closed && base ? Math.round(((row.acceptedPerSecond as number) / base) * 100) / 100 : undefined,
        typeof run.capacity === 'number' && run.capacity > 0
          ? Math.round(((row.acceptedPerSecond as number) / run.capacity) * 100) / 100
          : undefined,
        row.refused503,
        other || 0,
        row.p50,
        row.p99,
        row.refusedP50,
        control(row, 'in_flight_limit')?.median,
        control(row, 'refusals_holding')?.max,
        row.generatorCores,
      ];
    }),
  );
}

function spikeRuns(runs: Record_[]): string {
  const latest = runs.findLast((r) => r.baseline !== true && Array.isArray(r.rows) && r.rows.length > 0) ?? runs.at(-1)!;
  const rowsOf = (r: Record_) => (Array.isArray(r.rows) ? (r.rows as Obj[]) : []);
  const out: string[] = [];
  out.push('## `npm run bench:spike` (bench/spike.ts)');
  out.push('');
  out.push(
    `${runs.length} recorded ${runs.length === 1 ? 'run' : 'runs'}, ${day(runs[0]!)} to ${day(latest)} (UTC). Closed loops: clients that send again as soon as they are answered; open: a fixed arrival rate, latency from when each request was due. "current" is the API with its overload settings, "MAX_IN_FLIGHT=0" the same code with none.`,
  );
  out.push('');
  out.push(`### Latest run: ${day(latest)}`);
  out.push('');
  out.push(
    `Machine: ${machineLine(latest.machine)}. ${cell(latest.seconds)} s a row, ${cell(latest.users)} users, ${latest.split ? 'the API on one core and the generator on the other' : 'everything on every core'}; capacity (best unshed closed loop) ${cell(latest.capacity)} req/s.${latest.turns === true ? ' The two settings ran side by side and took turns, load by load.' : ''}`,
  );
  out.push('');
  out.push(rowsTable(latest));
  out.push('');
  const baseline = runs.findLast((r) => r.baseline === true && Array.isArray(r.rows));
  if (baseline) {
    out.push(`### Before: ${day(baseline)}, ${cell(baseline.note)}`);
    out.push('');
    out.push(rowsTable(baseline));
    out.push('');
  }
  const withFloors = runs.findLast((r) => Array.isArray(r.floors) && r.floors.length > 0);
  const floors = (withFloors?.floors as Obj[] | undefined) ?? [];
  if (withFloors && floors.length > 0) {
    out.push(
      `The floor (${day(withFloors)}, commit ${cell(withFloors.machine?.commit)}): a bare Node server that only answers the API's 503, on the API's core, at each flood's rate. Where it misses 200 ms, nothing inside the API can meet it.`,
    );
    out.push('');
    out.push(
      table(
        ['flood', 'arrivals/s', '503 p50 ms', '503 p99 ms', 'generator cores'],
        floors.map((f) => [`${cell(f.factor)}×`, f.rate, f.p50, f.p99, f.generatorCores]),
      ),
    );
    out.push('');
  }
  const misses = Array.isArray(latest.misses) ? (latest.misses as unknown[]) : [];
  out.push(
    misses.length
      ? `Targets missed in the latest run:\n\n${misses.map((m) => `- ${cell(m)}`).join('\n')}`
      : 'Every target met in the latest run.',
  );
  out.push('');
  out.push('### Every run');
  out.push('');
  out.push(
    table(
      [
        'when (UTC)',
        'commit',
        'machine',
        'capacity',
        'current: 202/s at 64 / 500 / 1000 / 2000 clients',
        'current: 503 at 500 / 1000 / 2000',
        'targets missed',
        'note',
      ],
      runs.map((r) => {
        const current = rowsOf(r).filter((row) => row.settings === 'current' && row.closed === true);
        const at = (n: number, key: string) => current.find((row) => row.clients === n)?.[key];
        return [
          day(r),
          r.machine?.commit,
          machineName(r.machine),
          r.capacity,
          [64, 500, 1000, 2000].map((n) => cell(at(n, 'acceptedPerSecond'))).join(' / '),
          [500, 1000, 2000].map((n) => cell(at(n, 'refused503'))).join(' / '),
          Array.isArray(r.misses) ? r.misses.length : undefined,
          r.note,
        ];
      }),
    ),
  );
  return out.join('\n');
}

function otherRuns(kind: string, runs: Record_[]): string {
  const latest = runs.at(-1)!;
  const out: string[] = [];
  out.push(`## \`${kind}\` records`);
  out.push('');
  out.push(
    `${runs.length} recorded ${runs.length === 1 ? 'run' : 'runs'}, ${day(runs[0]!)} to ${day(latest)} (UTC). Every figure of the records, as recorded.`,
  );
  out.push('');
  out.push(
    table(
      ['when (UTC)', 'commit', 'machine', 'note'],
      runs.map((r) => [day(r), r.machine?.commit, machineName(r.machine), r.note]),
    ),
  );
  out.push('');
  const latestFields = flatten(latest);
  const paths = [...new Set([...latestFields.map(([p]) => p), ...runs.flatMap((r) => flatten(r).map(([p]) => p))])];
  const byRun = runs.map((r) => new Map(flatten(r)));
  out.push(`Machine of the latest run: ${machineLine(latest.machine)}.`);
  out.push('');
  out.push(
    table(
      ['figure', `latest (${day(latest)})`, `range over ${runs.length} ${runs.length === 1 ? 'run' : 'runs'}`],
      paths.map((p) => [p, byRun.at(-1)!.get(p), range(byRun.map((m) => m.get(p)))]),
    ),
  );
  return out.join('\n');
}

/** bench/redis-ha.ts: the latest run's table, each row's 202 rate beside the single Redis's at its client count. */
function redisHaRuns(runs: Record_[]): string {
  const latest = runs.at(-1)!;
  const rows = Array.isArray(latest.rows) ? (latest.rows as Obj[]) : [];
  const single = (clients: unknown) => rows.find((r) => r.settings === 'single Redis' && r.clients === clients)?.acceptedPerSecond;
  return [
    '## `npm run bench:redis-ha` (bench/redis-ha.ts)',
    '',
    `${runs.length} recorded ${runs.length === 1 ? 'run' : 'runs'}, the latest ${day(latest)} (UTC). What replicated admissions cost when nothing fails: closed loops, every request admitted, the API on one core and the generator on the other; "WAIT 1" holds each 202 until a replica has the admission (docs/failover.md).`,
    '',
    `Machine: ${machineLine(latest.machine)}.`,
    '',
    table(
      ['Redis', 'clients', '202/s', 'of single Redis', 'p50 ms', 'p99 ms', 'generator (cores)'],
      rows.map((r) => [
        r.settings,
        r.clients,
        r.acceptedPerSecond,
        typeof single(r.clients) === 'number'
          ? Math.round(((r.acceptedPerSecond as number) / (single(r.clients) as number)) * 100) / 100
          : '–',
        r.p50,
        r.p99,
        r.generatorCores,
      ]),
    ),
  ].join('\n');
}

/**
 * bench/capacity.ts: what one Redis master carries for one coupon and what one Kafka partition
 * carries, and beside them what one API core costs (the latest `npm run bench`'s server CPU per
 * request), turned into what a 1,000,000 requests/s opening would need of each.
 */
function capacityRuns(runs: Record_[], benchRunsOfAll: Record_[] | undefined): string {
  const latest = runs.at(-1)!;
  const redis = Array.isArray(latest.redis) ? (latest.redis as Obj[]) : [];
  const kafka = Array.isArray(latest.kafka) ? (latest.kafka as Obj[]) : [];
  const best = (rows: Obj[], field: string) => Math.max(0, ...rows.map((r) => Number(r[field]) || 0));
  const perMaster = best(redis, 'admissionsPerSecond');
  const perPartition = best(kafka, 'eventsPerSecond');
  const benchRows = (benchRunsOfAll?.at(-1)?.rows ?? []) as Obj[];
  const cpuUs = (prefix: string) => Number(benchRows.find((r) => String(r.case).startsWith(prefix))?.serverCpuUsPerReq) || undefined;
  const admittedUs = cpuUs('(b)');
  const soldOutUs = cpuUs('(c)');
  const MILLION = 1_000_000;
  const need = (perUnit: number | undefined, rate: number) => (perUnit ? Math.ceil(rate / perUnit) : '–');
  return [
    '## `npm run bench:capacity` (bench/capacity.ts)',
    '',
    `${runs.length} recorded ${runs.length === 1 ? 'run' : 'runs'}, the latest ${day(latest)} (UTC), ${cell(latest.seconds)} s a row. One coupon on one Redis: the admission script called as shard workers call it, batches of fresh users from several callers (AOF \`appendfsync always\`). One Kafka partition: the app's producer (idempotent, acks=all, group commit) into one key, one broker.`,
    '',
    `Machine: ${machineLine(latest.machine)}.`,
    '',
    table(
      ['one coupon on one Redis', 'admissions/s', 'script calls/s', 'Redis (cores)', 'admissions per Redis core-second'],
      redis.map((r) => [
        `batches of ${cell(r.batch)}, ${cell(r.callers)} callers`,
        r.admissionsPerSecond,
        r.scriptCallsPerSecond,
        r.redisCores,
        r.admissionsPerRedisCoreSecond,
      ]),
    ),
    '',
    table(
      ['one Kafka partition', 'events/s acknowledged', 'bytes an event', 'events a send', 'producer CPU µs an event'],
      kafka.map((r) => [`${cell(r.publishers)} publishers`, r.eventsPerSecond, r.eventBytes, r.eventsPerSend, r.producerCpuUsPerEvent]),
    ),
    '',
    "What 1,000,000 requests/s would need of each, from these figures and the latest `npm run bench` (server CPU per request of the API, all its threads): API cores for the requests (most of an opening is answered sold out once the stock is gone), Redis masters and Kafka partitions for the admissions (as many as the stock lets through per second; one coupon is one master, so one coupon's ceiling is one master's).",
    '',
    table(
      ['unit', 'carries', 'for 1,000,000/s'],
      [
        [
          'API core, requests answered sold out',
          soldOutUs ? `${Math.round(MILLION / soldOutUs)} req/s (${soldOutUs} µs CPU each)` : '–',
          `${need(soldOutUs ? MILLION / soldOutUs : undefined, MILLION)} cores`,
        ],
        [
          'API core, requests admitted',
          admittedUs ? `${Math.round(MILLION / admittedUs)} req/s (${admittedUs} µs CPU each)` : '–',
          `${need(admittedUs ? MILLION / admittedUs : undefined, MILLION)} cores`,
        ],
        [
          'Redis master, admissions of one coupon',
          `${perMaster} /s`,
          `${need(perMaster, MILLION)} masters (so as many coupons, or one coupon's stock spread)`,
        ],
        ['Kafka partition, issue events', `${perPartition} /s`, `${need(perPartition, MILLION)} partitions`],
      ],
    ),
  ].join('\n');
}

/**
 * bench/cost.ts: the latest run's CPU per request by part of the system, the bare route beside the
 * admitted and sold-out paths (main thread and shard workers together), and the costliest frames of
 * the admitted path's largest parts.
 */
function costRuns(runs: Record_[]): string {
  const latest = runs.at(-1)!;
  const cases = Array.isArray(latest.cases) ? (latest.cases as Obj[]) : [];
  const THREADS = ['mainUs', 'workerUs', 'helperUs'];
  const us = (c: Obj | undefined, part: string) =>
    THREADS.reduce((n, t) => n + ((c?.[t] as Record<string, number> | undefined)?.[part] ?? 0), 0);
  const parts = [...new Set(cases.flatMap((c) => THREADS.flatMap((t) => Object.keys((c[t] as Obj) ?? {}))))].sort((x, y) =>
    cases.reduce((n, c) => n + us(c, y) - us(c, x), 0),
  );
  const perf = latest.profiler === 'perf';
  const sum = (c: Obj) => parts.reduce((n, p) => n + us(c, p), 0);
  const fixed = (v: number) => (v > 0 ? Math.round(v * 10) / 10 : '–');
  const admitted = cases.find((c) => String(c.case).startsWith('(b)'));
  const frames = (admitted?.frames ?? {}) as Record<string, [string, number][]>;
  return [
    '## `npm run bench:cost` (bench/cost.ts)',
    '',
    `${runs.length} recorded ${runs.length === 1 ? 'run' : 'runs'}, the latest ${day(latest)} (UTC). Where a request's CPU goes: only the samples of the measured requests counted, each given to the part of the system whose code asked for it; µs of CPU per request, every thread of the server process. Redis, Kafka, MariaDB and the consumer are other processes and not in these figures. ${
      perf
        ? "The latest run sampled with Linux perf: on-CPU samples of every thread (the main thread, the shard workers, V8's compiler and GC threads), the kernel's work for them included, each an equal share of the process's CPU from /proc."
        : 'The latest run sampled with `node --cpu-prof`, on a wall clock: a thread that wakes another on its core (a task posted to a shard worker, a socket write) is often preempted inside that call and sampled there when it runs again, so those parts also hold time spent waiting for the core; the line from /proc is the CPU.'
    }`,
    '',
    `Machine: ${machineLine(latest.machine)}.`,
    '',
    table(
      ['part', ...cases.map((c) => String(c.case))],
      [
        ...parts.map((p) => [p, ...cases.map((c) => fixed(us(c, p)))]),
        ['sum, profiled', ...cases.map((c) => fixed(sum(c)))],
        ['process CPU from /proc (profiler included)', ...cases.map((c) => c.processUsPerReq)],
        ['req/s under the profiler', ...cases.map((c) => c.rps)],
      ],
    ),
    '',
    "The admitted path's costliest sampled frames in its four largest parts (µs per request):",
    '',
    table(
      ['part', 'frame', 'µs'],
      parts
        .filter((p) => frames[p])
        .sort((x, y) => us(admitted, y) - us(admitted, x))
        .slice(0, 4)
        .flatMap((p) => (frames[p] ?? []).slice(0, 3).map(([f, v]) => [p, `\`${f}\``, v])),
    ),
  ].join('\n');
}

/** bench/users.ts: the latest run, one line per count of registered users. */
function usersRuns(runs: Record_[]): string {
  const latest = runs.at(-1)!;
  const levels = Array.isArray(latest.levels) ? (latest.levels as Obj[]) : [];
  const path = (l: Obj, which: 'admitted' | 'soldOut', field: string) => (l[which] as Obj | undefined)?.[field];
  const first = levels[0];
  const vsFirst = (l: Obj, which: 'admitted' | 'soldOut') => {
    const a = Number(path(l, which, 'cpuUsPerReq'));
    const b = Number(first ? path(first, which, 'cpuUsPerReq') : Number.NaN);
    return a > 0 && b > 0 ? Math.round((a / b) * 100) / 100 : '–';
  };
  const settings = (latest.settings ?? {}) as Obj;
  return [
    '## `npm run bench:users` (bench/users.ts)',
    '',
    `${runs.length} recorded ${runs.length === 1 ? 'run' : 'runs'}, the latest ${day(latest)} (UTC). The same closed loops (${cell(settings.connections)} connections, ${cell(settings.requests)} requests after a warm-up, the Go generator on its own core, no shedding) with more and more registered users, the requests' users drawn at random from all of them: every request admitted (spread over 24 coupons, so that a thousand users are enough), then every request answered sold out. The API is one process with ${cell(settings.shards)} shard workers; "in memory" is the users its workers hold, bounded by \`USER_CACHE_MAX\` each.`,
    '',
    `Machine: ${machineLine(latest.machine)}.`,
    '',
    table(
      [
        'users',
        'admitted req/s',
        'µs CPU',
        '÷ fewest users',
        'sold out req/s',
        'µs CPU',
        '÷ fewest users',
        'API memory (MiB)',
        'in memory',
        'Redis (MiB)',
        'Redis forks during the loops',
      ],
      levels.map((l) => [
        l.users,
        path(l, 'admitted', 'rps'),
        path(l, 'admitted', 'cpuUsPerReq'),
        vsFirst(l, 'admitted'),
        path(l, 'soldOut', 'rps'),
        path(l, 'soldOut', 'cpuUsPerReq'),
        vsFirst(l, 'soldOut'),
        l.apiRssMiB,
        l.directoryEntries,
        l.redisUsedMiB,
        l.redisForks ?? '–',
      ]),
    ),
  ].join('\n');
}

/**
 * bench/refusal-cost.ts: each server's CPU per refusal in each round of the latest run, and the
 * median (the lower middle one) of its rounds in every run at the latest run's arrival rate.
 */
function refusalRuns(runs: Record_[]): string {
  const latest = runs.at(-1)!;
  const serversOf = (r: Record_) => (Array.isArray(r.servers) ? (r.servers as Obj[]) : []);
  const roundsOf = (server: Obj) => (Array.isArray(server.rounds) ? (server.rounds as Obj[]) : []);
  /** A figure of each round of the server, as one cell. */
  const eachRound = (server: Obj, figure: (round: Obj) => unknown) =>
    roundsOf(server)
      .map((x) => cell(figure(x)))
      .join(', ');
  const atRate = runs.filter((r) => r.arrivalsPerSecond === latest.arrivalsPerSecond);
  const over = (name: unknown) =>
    atRate.flatMap((r) =>
      serversOf(r)
        .filter((server) => server.name === name)
        .flatMap((server) => roundsOf(server).map((x) => Number(x.cpuUs))),
    );
  return [
    '## `npm run bench:refusal` (bench/refusal-cost.ts)',
    '',
    `${runs.length} recorded ${runs.length === 1 ? 'run' : 'runs'}, the latest ${day(latest)} (UTC): ${cell(latest.arrivalsPerSecond)} arrivals/s over ${cell(latest.connections)} connections for ${cell(latest.seconds)} s a round, every request refused, each server alone on the API's core and the Go generator on the other. The floors are what any refusal costs a Node process: answering 503 through Node's HTTP server, writing ready-made bytes on raw sockets (nothing left but the kernel's read and write), closing each connection as it is accepted (its generator dials for every request, and above about 0.7 of a core may not have offered the full rate); the API refuses at its intake, before routing, its one place held.`,
    '',
    `Machine: ${machineLine(latest.machine)}.`,
    '',
    table(
      [
        'server',
        'CPU µs a refusal, each round',
        'main thread µs, each round',
        'generator cores',
        `median round of the ${atRate.length} ${atRate.length === 1 ? 'run' : 'runs'} at this rate`,
      ],
      serversOf(latest).map((server) => [
        server.name,
        eachRound(server, (x) => x.cpuUs),
        eachRound(server, (x) => (x.threadsUs as Obj | undefined)?.MainThread),
        eachRound(server, (x) => x.generatorCores),
        lowerMedian(over(server.name)),
      ]),
    ),
  ].join('\n');
}

/** The page for a results file's content (the parsed JSON of bench/results.json). */
export function renderBenchmarks(results: unknown): string {
  const all = ((results as { runs?: unknown[] } | null)?.runs ?? []).filter(
    (r): r is Record_ => r !== null && typeof r === 'object' && !Array.isArray(r),
  );
  const kinds = new Map<string, Record_[]>();
  for (const r of [...all].sort((a, b) => String(a.at ?? '').localeCompare(String(b.at ?? '')))) {
    const kind = typeof r.bench === 'string' && r.bench !== '' ? r.bench : 'run';
    kinds.set(kind, [...(kinds.get(kind) ?? []), r]);
  }
  const sections: string[] = [];
  const bench = kinds.get('run');
  if (bench) sections.push(benchRuns(bench));
  for (const [kind, runs] of [...kinds].sort(([a], [b]) => a.localeCompare(b))) {
    if (kind === 'spike') sections.push(spikeRuns(runs));
    else if (kind === 'redis-ha') sections.push(redisHaRuns(runs));
    else if (kind === 'capacity') sections.push(capacityRuns(runs, bench));
    else if (kind === 'cost') sections.push(costRuns(runs));
    else if (kind === 'users') sections.push(usersRuns(runs));
    else if (kind === 'refusal') sections.push(refusalRuns(runs));
    else if (kind !== 'run') sections.push(otherRuns(kind, runs));
  }
  return [
    '# Benchmarks',
    '',
    '<!-- Generated by `npm run bench:report` from bench/results.json: do not edit by hand. -->',
    '',
    'Every figure here comes from a record in `bench/results.json`, which the benchmarks append to with',
    'the machine they ran on and the commit they measured. The load generator and every service share',
    "the machine's cores, so figures compare only between runs on one machine; see docs/testing.md for",
    'how to run the benchmarks.',
    '',
    sections.length ? sections.join('\n\n') : 'No runs recorded yet.',
    '',
  ].join('\n');
}

export function renderFromFile(path: URL = RESULTS): string {
  return renderBenchmarks(JSON.parse(readFileSync(path, 'utf8')));
}

export const BENCHMARKS_PAGE = PAGE;

if (import.meta.main) {
  writeFileSync(PAGE, renderFromFile());
  console.log(`wrote ${PAGE.pathname}`);
}
