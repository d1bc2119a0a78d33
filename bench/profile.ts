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
