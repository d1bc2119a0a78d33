/**
 * Reading the API's /metrics (Prometheus text) in a benchmark: a histogram's sum and count, added
 * over its series, so that two scrapes around a measured window give that window's mean.
 */

export interface Totals {
  sum: number;
  count: number;
}

/** `{a="1",b="x"}` into its pairs (label values here carry no escaped quotes). */
function labelsOf(text: string): Map<string, string> {
  const labels = new Map<string, string>();
  for (const m of text.matchAll(/(\w+)="([^"]*)"/g)) labels.set(m[1]!, m[2]!);
  return labels;
}

/** The histogram's `_sum` and `_count` over every series whose labels include `match`. */
export function histogramTotals(text: string, name: string, match: Record<string, string> = {}): Totals {
  const totals: Totals = { sum: 0, count: 0 };
  for (const line of text.split('\n')) {
    const m = /^(\w+?)_(sum|count)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = labelsOf(m[3] ?? '');
    if (!Object.entries(match).every(([k, v]) => labels.get(k) === v)) continue;
    totals[m[2] as 'sum' | 'count'] += Number(m[4]);
  }
  return totals;
}

/** The mean of what the histogram observed between two scrapes; null when it observed nothing. */
export function meanBetween(before: string, after: string, name: string, match: Record<string, string> = {}): number | null {
  const a = histogramTotals(before, name, match);
  const b = histogramTotals(after, name, match);
  const count = b.count - a.count;
  return count > 0 ? (b.sum - a.sum) / count : null;
}
