/** Reads V8 .cpuprofile files (node --cpu-prof) and ranks functions by self time. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  selfMs: number;
  /** Share of the non-idle samples. */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  top: SelfTime[];
}

function shortUrl(url: string): string {
  if (!url) return '';
  const root = new URL('../', import.meta.url).href;
  return url
    .replace(root, '')
    .replace(/^file:\/\/.*\/node_modules\//, 'node_modules/')
    .replace(/^node:/, 'node:');
}

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  // Each sample's time is the gap to the next sample.
  for (let i = 0; i < samples.length; i++) {
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, dt));
  }
  const byFn = new Map<string, SelfTime>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    total += us;
    if (name === '(idle)') idle += us;
    const where = n.callFrame.url ? `${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : '';
    const key = `${name}\u0000${where}`;
    const cur = byFn.get(key) ?? { fn: name, where, selfMs: 0, pct: 0 };
    cur.selfMs += us / 1000;
    byFn.set(key, cur);
  }
  const busy = total - idle;
  const ranked = [...byFn.values()]
    .filter((s) => s.fn !== '(idle)')
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, top);
  for (const s of ranked) {
    s.pct = busy > 0 ? Math.round(((s.selfMs * 1000) / busy) * 1000) / 10 : 0;
    s.selfMs = Math.round(s.selfMs);
  }
  return { file, totalMs: Math.round(total / 1000), busyMs: Math.round(busy / 1000), top: ranked };
}

/** Every .cpuprofile in `dir` (node --cpu-prof-dir), summarised, in file order; none if it is missing. */
export function profilesIn(dir: string, top: number): ProfileSummary[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()
    .map((f) => summarizeProfile(join(dir, f), top));
}

/** A profile's heading and its functions by self time, one per line. */
export function formatProfile(p: ProfileSummary): string {
  return [
    `CPU profile ${p.file} (${p.busyMs} ms busy of ${p.totalMs} ms):`,
    ...p.top.map((t) => `  ${String(t.selfMs).padStart(7)} ms ${t.pct.toFixed(1).padStart(5)} %  ${t.fn}  ${t.where}`),
  ].join('\n');
}

/**
 * Where a request's CPU goes, by part of the system. A sample belongs to the innermost frame that
 * a rule names (the code that asked for the work: a socket write made by kafkajs is Kafka's), so
 * Node's own I/O counts as "sockets & HTTP" only when no library above it but Fastify asked.
 */
const CATEGORY_RULES: [RegExp, string][] = [
  [/node_modules\/kafkajs\/|src\/issuance\/producer|src\/store\/(kafka|issue-event)/, 'Kafka (encode, send)'],
  [
    /node_modules\/(ioredis|redis-parser|@ioredis|denque|cluster-key-slot)\/|src\/store\/(redis|scripts|keys|coupon-change|coupon-state|known-users)/,
    'Redis',
  ],
  [/node_modules\/(prom-client|tdigest|bintrees)\/|src\/metrics\//, 'metrics'],
  [/node_modules\/(pino|pino-std-serializers|sonic-boom|thread-stream|fast-redact|quick-format-unescaped)\/|src\/log\.ts/, 'logging'],
  [/src\/overload\/rate-limiter/, 'rate limiting'],
  [/src\/overload\//, 'overload control'],
  [/node_modules\/piscina\/|src\/shards\/|\/workers\/|node:internal\/worker|node:worker_threads/, 'thread hop (Piscina)'],
  [/src\/(admission|catalog|issuance)\//, 'admission logic'],
  [
    /node_modules\/(fastify|find-my-way|avvio|@fastify|fast-json-stringify|fast-querystring|secure-json-parse|light-my-request|fast-uri|ajv)\/|src\/http\/|bench\/bare-server/,
    'Fastify & routes',
  ],
];
/** Node's own I/O machinery: a sample under it with only Fastify (or nothing) above is socket and HTTP work. */
const NODE_IO = /^node:(_http_|http|net|internal\/(http|stream_base_commons|streams\/|net|dns|js_stream_socket)|stream)/;
const SOCKETS = 'sockets & HTTP (Node)';

export function categoryOf(stack: readonly { functionName: string; url: string }[]): string | null {
  const leaf = stack[0];
  if (!leaf || leaf.functionName === '(idle)' || leaf.functionName === '(root)') return null;
  if (leaf.functionName === '(garbage collector)') return 'GC';
  if (leaf.functionName === '(program)') return 'V8 & native, unattributed';
  let sawIo = false;
  for (const frame of stack) {
    if (NODE_IO.test(frame.url)) sawIo = true;
    const rule = CATEGORY_RULES.find(([re]) => re.test(frame.url));
    if (rule) return rule[1] === 'Fastify & routes' && sawIo ? SOCKETS : rule[1];
  }
  return sawIo ? SOCKETS : 'other (Node, V8 builtins)';
}

export interface CostBreakdown {
  file: string;
  /** 0 for the main thread, a worker's thread id otherwise (from the file name node --cpu-prof gives). */
  threadId: number;
  busyMs: number;
  byCategory: Map<string, number>;
  /** Per category, ms by the sampled (innermost) frame: what inside the category costs most. */
  byFrame: Map<string, Map<string, number>>;
}

/**
 * A profile's busy time by category, counting only samples taken between `fromUs` and `toUs`
 * (process.hrtime in µs: V8 stamps samples with the same monotonic clock), so a window of load can
 * be told apart from start-up and warm-up in one profile of the whole process.
 */
export function costBreakdown(file: string, fromUs = -Infinity, toUs = Infinity): CostBreakdown {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes as (ProfileNode & { children?: number[] })[]) for (const c of n.children ?? []) parent.set(c, n.id);
  const categoryCache = new Map<number, string | null>();
  const categoryOfNode = (id: number): string | null => {
    const cached = categoryCache.get(id);
    if (cached !== undefined) return cached;
    const stack: { functionName: string; url: string }[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!.callFrame);
    const category = categoryOf(stack);
    categoryCache.set(id, category);
    return category;
  };
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  const byCategory = new Map<string, number>();
  const byFrame = new Map<string, Map<string, number>>();
  let busyUs = 0;
  let t = p.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const category = categoryOfNode(samples[i]!);
    if (category === null) continue;
    const us = Math.max(0, deltas[i + 1] ?? 0);
    busyUs += us;
    byCategory.set(category, (byCategory.get(category) ?? 0) + us / 1000);
    const leaf = byId.get(samples[i]!)!.callFrame;
    const frame = `${leaf.functionName || '(anonymous)'} ${shortUrl(leaf.url)}${leaf.url ? `:${leaf.lineNumber + 1}` : ''}`;
    const frames = byFrame.get(category) ?? new Map<string, number>();
    frames.set(frame, (frames.get(frame) ?? 0) + us / 1000);
    byFrame.set(category, frames);
  }
  const threadId = Number(/\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[2] ?? 0);
  return { file, threadId, busyMs: busyUs / 1000, byCategory, byFrame };
}

/** Every .cpuprofile of process `pid` in `dir`, as costBreakdown over the window. */
export function costBreakdownsOf(dir: string, pid: number, fromUs: number, toUs: number): CostBreakdown[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile') && f.split('.')[3] === String(pid))
    .sort()
    .map((f) => costBreakdown(join(dir, f), fromUs, toUs));
}
