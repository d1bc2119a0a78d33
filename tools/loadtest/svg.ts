/**
 * Small inline-SVG charts for the HTML report: line charts (null values break the line) and
 * stacked areas, with axes, grid, legend and optional horizontal marker lines. No scripts, no
 * external resources: the report stays one self-contained file.
 */

export interface LineSeries {
  name: string;
  color: string;
  /** [x, y]; a null y breaks the line. */
  points: [number, number | null][];
  dashed?: boolean;
}

export interface Marker {
  y: number;
  label: string;
  color: string;
}

export interface ChartOptions {
  id: string;
  title: string;
  yLabel: string;
  xLabel?: string;
  width?: number;
  height?: number;
  markers?: Marker[];
  /** Fix the y range's top (otherwise from the data and markers). */
  yMax?: number;
  /** Fix the x range's end, so charts of one run share their time axis. */
  xMax?: number;
}

const M = { left: 64, right: 16, top: 34, bottom: 38 };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A "nice" tick step (1, 2 or 5 times a power of ten) for about `count` ticks over `span`. */
export function niceStep(span: number, count = 5): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
}

function fmt(n: number): string {
  if (Math.abs(n) >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (Math.abs(n) >= 1e4) return `${+(n / 1e3).toFixed(1)}k`;
  return String(+n.toFixed(Math.abs(n) < 1 && n !== 0 ? 2 : Math.abs(n) < 10 ? 1 : 0));
}

interface Frame {
  x: (v: number) => number;
  y: (v: number) => number;
  body: string[];
  w: number;
  h: number;
}

function frame(opts: ChartOptions, xMax: number, yMaxData: number): Frame {
  const w = opts.width ?? 920;
  const h = opts.height ?? 260;
  const pw = w - M.left - M.right;
  const ph = h - M.top - M.bottom;
  const yTop0 = opts.yMax ?? Math.max(yMaxData, ...(opts.markers ?? []).map((m) => m.y)) * 1.08;
  const yStep = niceStep(yTop0 > 0 ? yTop0 : 1);
  const yTop = Math.max(yStep, Math.ceil((yTop0 > 0 ? yTop0 : 1) / yStep) * yStep);
  const xTop = xMax > 0 ? xMax : 1;
  const x = (v: number) => M.left + (v / xTop) * pw;
  const y = (v: number) => M.top + ph - (Math.min(v, yTop) / yTop) * ph;
  const body: string[] = [];
  body.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="#fff" stroke="#ccd"/>`);
  for (let v = 0; v <= yTop + 1e-9; v += yStep) {
    body.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eef"/>`);
    body.push(`<text x="${M.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="tick">${fmt(v)}</text>`);
  }
  const xStep = niceStep(xTop, 8);
  for (let v = 0; v <= xTop + 1e-9; v += xStep) {
    body.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${M.top + ph}" y2="${M.top + ph + 4}" stroke="#889"/>`);
    body.push(`<text x="${x(v).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle" class="tick">${fmt(v)}</text>`);
  }
  body.push(`<text x="${M.left + pw / 2}" y="${h - 4}" text-anchor="middle" class="axis">${escapeXml(opts.xLabel ?? 'seconds')}</text>`);
  body.push(`<text transform="translate(14 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle" class="axis">${escapeXml(opts.yLabel)}</text>`);
  return { x, y, body, w, h };
}

function legend(items: { name: string; color: string; dashed?: boolean }[], w: number): string {
  let cx = M.left;
  const out: string[] = [];
  for (const it of items) {
    out.push(`<line x1="${cx}" x2="${cx + 18}" y1="22" y2="22" stroke="${it.color}" stroke-width="3"${it.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    out.push(`<text x="${cx + 22}" y="26" class="legend">${escapeXml(it.name)}</text>`);
    cx += 30 + it.name.length * 6.6;
    if (cx > w - 80) break;
  }
  return out.join('');
}

function wrap(opts: ChartOptions, f: Frame, inner: string[], items: { name: string; color: string; dashed?: boolean }[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="${escapeXml(opts.id)}" data-chart="${escapeXml(opts.id)}" width="${f.w}" height="${f.h}" viewBox="0 0 ${f.w} ${f.h}" role="img" aria-label="${escapeXml(opts.title)}">` +
    `<text x="${M.left}" y="12" class="title">${escapeXml(opts.title)}</text>${f.body.join('')}${inner.join('')}${legend(items, f.w)}</svg>`;
}

function markersSvg(f: Frame, markers: Marker[] | undefined, xMax: number): string[] {
  return (markers ?? []).map((m) =>
    `<line x1="${f.x(0)}" x2="${f.x(xMax)}" y1="${f.y(m.y).toFixed(1)}" y2="${f.y(m.y).toFixed(1)}" stroke="${m.color}" stroke-dasharray="6 4" class="marker"/>` +
    `<text x="${(f.x(xMax) - 4).toFixed(1)}" y="${(f.y(m.y) - 4).toFixed(1)}" text-anchor="end" class="marker-label" fill="${m.color}">${escapeXml(m.label)}</text>`);
}

/** The path of a series: "M x y L x y ...", a new "M" after each null. */
export function linePath(points: [number, number | null][], x: (v: number) => number, y: (v: number) => number): string {
  const parts: string[] = [];
  let pen = false;
  for (const [px, py] of points) {
    if (py === null || !Number.isFinite(py)) {
      pen = false;
      continue;
    }
    parts.push(`${pen ? 'L' : 'M'}${x(px).toFixed(1)} ${y(py).toFixed(1)}`);
    pen = true;
  }
  return parts.join(' ');
}

export function lineChart(opts: ChartOptions & { series: LineSeries[] }): string {
  let xMax = 0;
  let yMax = 0;
  for (const s of opts.series) for (const [px, py] of s.points) {
    xMax = Math.max(xMax, px);
    if (py !== null && Number.isFinite(py)) yMax = Math.max(yMax, py);
  }
  if (opts.xMax !== undefined) xMax = Math.max(xMax, opts.xMax);
  const f = frame(opts, xMax, yMax);
  const inner = opts.series.map((s) => {
    const d = linePath(s.points, f.x, f.y);
    const n = s.points.filter((p) => p[1] !== null).length;
    return d ? `<path class="series" data-series="${escapeXml(s.name)}" data-points="${n}" d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} stroke-linejoin="round"/>` : '';
  });
  inner.push(...markersSvg(f, opts.markers, xMax));
  return wrap(opts, f, inner, opts.series);
}

/** Stacked areas: each layer's band sits on the layers before it. */
export function stackedChart(opts: ChartOptions & { x: number[]; layers: { name: string; color: string; values: number[] }[] }): string {
  const base = opts.x.map(() => 0);
  const tops = opts.layers.map((l) => l.values.map((v, i) => (base[i]! += v)));
  const xMax = Math.max(opts.xMax ?? 0, opts.x.length ? opts.x[opts.x.length - 1]! : 0);
  const f = frame(opts, xMax, Math.max(0, ...base));
  const inner: string[] = [];
  opts.layers.forEach((l, li) => {
    const top = tops[li]!;
    const below = li === 0 ? opts.x.map(() => 0) : tops[li - 1]!;
    const up = opts.x.map((px, i) => `${f.x(px).toFixed(1)} ${f.y(top[i]!).toFixed(1)}`);
    const down = opts.x.map((px, i) => `${f.x(px).toFixed(1)} ${f.y(below[i]!).toFixed(1)}`).reverse();
    if (up.length === 0) return;
    inner.push(`<path class="series area" data-series="${escapeXml(l.name)}" data-points="${up.length}" d="M${up.join(' L')} L${down.join(' L')} Z" fill="${l.color}" fill-opacity="0.75" stroke="${l.color}"/>`);
  });
  return wrap(opts, f, inner, opts.layers);
}

/** A panel in place of a chart when there is nothing to draw. */
export function emptyChart(id: string, title: string, note: string, width = 920, height = 120): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart empty" id="${escapeXml(id)}" data-chart="${escapeXml(id)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">` +
    `<text x="${M.left}" y="12" class="title">${escapeXml(title)}</text><rect x="${M.left}" y="24" width="${width - M.left - M.right}" height="${height - 34}" fill="#f6f6f9" stroke="#ccd"/>` +
    `<text x="${width / 2}" y="${height / 2 + 14}" text-anchor="middle" class="na">${escapeXml(note)}</text></svg>`;
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** Fixed colours for the answers the API gives, so reports compare at a glance. */
export function outcomeColor(name: string, i: number): string {
  if (name.startsWith('202')) return '#2ca02c';
  if (name.includes('SOLD_OUT')) return '#1f77b4';
  if (name.includes('ALREADY_ISSUED')) return '#9467bd';
  if (name.startsWith('5')) return '#d62728';
  if (name.startsWith('0')) return '#000000';
  if (name.startsWith('4')) return '#ff7f0e';
  return PALETTE[(i + 5) % PALETTE.length]!;
}
