/**
 * Trend statistics computed as k6 computes them, so figures compare with a k6 run's. Percentiles
 * are exact over every recorded duration (d3-array's R-7 quantile is k6's rule); a histogram such
 * as HdrHistogram would give bucketed approximations instead of the values k6 reports.
 */
import { quantileSorted } from 'd3-array';

/**
 * The p-th percentile (0..100) of ascending values, by linear interpolation between the closest
 * ranks: index p/100 * (n - 1), as k6's Trend sink does. 0 for no values.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  // d3 only indexes the values; its types ask for an array, the recorder hands it a Float64Array.
  return quantileSorted(sorted as number[], Math.min(100, Math.max(0, p)) / 100) ?? 0;
}

export interface TrendSummary {
  count: number;
  avg: number;
  min: number;
  med: number;
  max: number;
  p90: number;
  p95: number;
  p99: number;
}

/**
 * The middle value, the lower of the two middle ones for an even count, so it is always one that
 * was measured (a benchmark then reports that round's other figures with it); null for none.
 */
export function lowerMedian(values: readonly (number | null)[]): number | null {
  const known = sortedCopy(values.filter((v): v is number => v !== null && Number.isFinite(v)));
  return known.length === 0 ? null : known[Math.floor((known.length - 1) / 2)]!;
}

/** Sorts a copy (as a Float64Array, numerically) and summarizes it. */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(values as ArrayLike<number>);
  out.sort();
  return out;
}

export function summarizeTrend(values: ArrayLike<number>): TrendSummary {
  const s = sortedCopy(values);
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i]!;
  return {
    count: s.length,
    avg: s.length ? sum / s.length : 0,
    min: s.length ? s[0]! : 0,
    med: percentile(s, 50),
    max: s.length ? s[s.length - 1]! : 0,
    p90: percentile(s, 90),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
  };
}

/** Rounds to a few decimals for reports. */
export function round(n: number, digits = 2): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
