/**
 * Small inline-SVG charts for the HTML report: line charts (null values break the line) and
 * stacked areas, with axes, grid, legend and optional horizontal marker lines. No scripts, no
 * external resources: the report stays one self-contained file. d3's scales, tick rules, number
 * formats and path generators do the geometry (they need no DOM); the markup around them is ours.
 */
import { format } from 'd3-format';
import { scaleLinear, type ScaleLinear } from 'd3-scale';
import { area, line, stack, type SeriesPoint } from 'd3-shape';
import { escape as escapeHtml } from 'html-escaper';

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

/** Text for SVG and HTML (attribute values included). */
export const escapeXml: (s: string) => string = escapeHtml;

const si = format('~s');

/** Tick labels: SI prefixes from ten thousand up (12k, 1.5M), else as d3 chooses for the tick step. */
function tickLabel(scale: ScaleLinear<number, number>, count: number): (n: number) => string {
  const plain = scale.tickFormat(count);
  return (n) => (Math.abs(n) >= 1e4 ? si(n) : plain(n));
}

interface Frame {
  x: ScaleLinear<number, number>;
  y: ScaleLinear<number, number>;
  body: string[];
  w: number;
  h: number;
}

function frame(opts: ChartOptions, xMax: number, yMaxData: number): Frame {
  const w = opts.width ?? 920;
  const h = opts.height ?? 260;
  const pw = w - M.left - M.right;
  const ph = h - M.top - M.bottom;
  const yTop = opts.yMax ?? Math.max(yMaxData, ...(opts.markers ?? []).map((m) => m.y)) * 1.08;
  // Values above the top (a fixed yMax) are drawn at the top edge.
  const y = scaleLinear()
    .domain([0, yTop > 0 ? yTop : 1])
    .nice(5)
    .range([M.top + ph, M.top])
    .clamp(true);
  const x = scaleLinear()
    .domain([0, xMax > 0 ? xMax : 1])
    .range([M.left, M.left + pw]);
  const body: string[] = [];
  body.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="#fff" stroke="#ccd"/>`);
  const yLabel = tickLabel(y, 5);
  for (const v of y.ticks(5)) {
    body.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eef"/>`);
    body.push(`<text x="${M.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="tick">${yLabel(v)}</text>`);
  }
  const xLabel = tickLabel(x, 8);
  for (const v of x.ticks(8)) {
    body.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${M.top + ph}" y2="${M.top + ph + 4}" stroke="#889"/>`);
    body.push(`<text x="${x(v).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle" class="tick">${xLabel(v)}</text>`);
  }
  body.push(`<text x="${M.left + pw / 2}" y="${h - 4}" text-anchor="middle" class="axis">${escapeXml(opts.xLabel ?? 'seconds')}</text>`);
  body.push(
    `<text transform="translate(14 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle" class="axis">${escapeXml(opts.yLabel)}</text>`,
  );
  return { x, y, body, w, h };
}

function legend(items: { name: string; color: string; dashed?: boolean }[], w: number): string {
  let cx = M.left;
  const out: string[] = [];
  for (const it of items) {
    out.push(
      `<line x1="${cx}" x2="${cx + 18}" y1="22" y2="22" stroke="${it.color}" stroke-width="3"${it.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
    );
    out.push(`<text x="${cx + 22}" y="26" class="legend">${escapeXml(it.name)}</text>`);
    cx += 30 + it.name.length * 6.6;
    if (cx > w - 80) break;
  }
  return out.join('');
}

function wrap(opts: ChartOptions, f: Frame, inner: string[], items: { name: string; color: string; dashed?: boolean }[]): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="${escapeXml(opts.id)}" data-chart="${escapeXml(opts.id)}" width="${f.w}" height="${f.h}" viewBox="0 0 ${f.w} ${f.h}" role="img" aria-label="${escapeXml(opts.title)}">` +
    `<text x="${M.left}" y="12" class="title">${escapeXml(opts.title)}</text>${f.body.join('')}${inner.join('')}${legend(items, f.w)}</svg>`
  );
}

function markersSvg(f: Frame, markers: Marker[] | undefined, xMax: number): string[] {
  return (markers ?? []).map(
    (m) =>
      `<line x1="${f.x(0)}" x2="${f.x(xMax)}" y1="${f.y(m.y).toFixed(1)}" y2="${f.y(m.y).toFixed(1)}" stroke="${m.color}" stroke-dasharray="6 4" class="marker"/>` +
      `<text x="${(f.x(xMax) - 4).toFixed(1)}" y="${(f.y(m.y) - 4).toFixed(1)}" text-anchor="end" class="marker-label" fill="${m.color}">${escapeXml(m.label)}</text>`,
  );
}

/** The path of a series: a null y breaks the line. */
export function linePath(points: [number, number | null][], x: (v: number) => number, y: (v: number) => number): string {
  return (
    line<[number, number | null]>()
      .defined((p) => p[1] !== null && Number.isFinite(p[1]))
      .x((p) => x(p[0]))
      .y((p) => y(p[1]!))
      .digits(1)(points) ?? ''
  );
}

export function lineChart(opts: ChartOptions & { series: LineSeries[] }): string {
  let xMax = 0;
  let yMax = 0;
  for (const s of opts.series)
    for (const [px, py] of s.points) {
      xMax = Math.max(xMax, px);
      if (py !== null && Number.isFinite(py)) yMax = Math.max(yMax, py);
    }
  if (opts.xMax !== undefined) xMax = Math.max(xMax, opts.xMax);
  const f = frame(opts, xMax, yMax);
  const inner = opts.series.map((s) => {
    const d = linePath(s.points, f.x, f.y);
    const n = s.points.filter((p) => p[1] !== null).length;
    return d
      ? `<path class="series" data-series="${escapeXml(s.name)}" data-points="${n}" d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} stroke-linejoin="round"/>`
      : '';
  });
  inner.push(...markersSvg(f, opts.markers, xMax));
  return wrap(opts, f, inner, opts.series);
}

/** Stacked areas: each layer's band sits on the layers before it. */
export function stackedChart(opts: ChartOptions & { x: number[]; layers: { name: string; color: string; values: number[] }[] }): string {
  const bands = stack<number, string>()
    .keys(opts.layers.map((_, i) => String(i)))
    .value((i, key) => opts.layers[Number(key)]!.values[i] ?? 0)(opts.x.map((_, i) => i));
  const top = bands.length ? Math.max(0, ...bands.at(-1)!.map((p) => p[1])) : 0;
  const xMax = Math.max(opts.xMax ?? 0, opts.x.length ? opts.x[opts.x.length - 1]! : 0);
  const f = frame(opts, xMax, top);
  const band = area<SeriesPoint<number>>()
    .x((p) => f.x(opts.x[p.data]!))
    .y0((p) => f.y(p[0]))
    .y1((p) => f.y(p[1]))
    .digits(1);
  const inner = opts.layers.map((l, li) =>
    opts.x.length === 0
      ? ''
      : `<path class="series area" data-series="${escapeXml(l.name)}" data-points="${opts.x.length}" d="${band(bands[li]!)}" fill="${l.color}" fill-opacity="0.75" stroke="${l.color}"/>`,
  );
  return wrap(opts, f, inner, opts.layers);
}

/** A panel in place of a chart when there is nothing to draw. */
export function emptyChart(id: string, title: string, note: string, width = 920, height = 120): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart empty" id="${escapeXml(id)}" data-chart="${escapeXml(id)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">` +
    `<text x="${M.left}" y="12" class="title">${escapeXml(title)}</text><rect x="${M.left}" y="24" width="${width - M.left - M.right}" height="${height - 34}" fill="#f6f6f9" stroke="#ccd"/>` +
    `<text x="${width / 2}" y="${height / 2 + 14}" text-anchor="middle" class="na">${escapeXml(note)}</text></svg>`
  );
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
