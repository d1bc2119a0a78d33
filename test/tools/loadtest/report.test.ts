import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { Recorder } from '../../../tools/loadtest/recorder.ts';
import { renderReport } from '../../../tools/loadtest/report.ts';
import { machineInfo, roundMetrics, type LoadTestSummary } from '../../../tools/loadtest/runner.ts';
import { loadScenarioFile } from '../../../tools/loadtest/scenario.ts';
import { evaluateThresholds, parseThresholds } from '../../../tools/loadtest/thresholds.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHARTS = ['chart-rate', 'chart-load', 'chart-latency', 'chart-outcomes', 'chart-stock', 'chart-lag'];

/** A summary as the runner makes it, from a synthetic 40 s event opening (a ramp, sell-out, then SOLD_OUT). */
function syntheticSummary(withLag: boolean): LoadTestSummary {
  const file = loadScenarioFile('event-opening');
  const rec = new Recorder(['opening']);
  let seed = 7;
  const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  let accepted = 0;
  for (let s = 0; s < 40; s++) {
    const rate = Math.min(2_000, s * 100);
    for (let k = 0; k < rate / 10; k++) {
      const start = s * 1_000 + (k * 1_000) / (rate / 10);
      const admitted = accepted < 1_000 && rand() < 0.6;
      if (admitted) accepted++;
      const latency = (admitted ? 8 : 2) + rand() * rand() * (s > 20 ? 120 : 30);
      const status = s === 30 && k === 0 ? 503 : admitted ? 202 : 409;
      rec.add(0, start, latency, status, status === 503 ? '503 UNAVAILABLE' : admitted ? '202 ACCEPTED' : '409 SOLD_OUT');
    }
    rec.activity.push([s, 0, Math.round(rate / 50), rate / 10]);
  }
  rec.endMs = 40_000;
  const thresholds = evaluateThresholds(parseThresholds(file.thresholds), rec);
  const stock = Array.from({ length: 41 }, (_, t) => ({
    t,
    remaining: Math.max(0, 1_000 - t * 60),
    issuedCount: Math.min(1_000, Math.max(0, t * 60 - 100)),
  }));
  return {
    scenario: 'event-opening',
    description: file.description,
    file: 'k6/scenarios/event-opening.json',
    startedAt: new Date(0).toISOString(),
    durationS: 40,
    baseUrl: 'http://127.0.0.1:18080',
    couponId: 42,
    usersFile: '/tmp/users.json',
    usersSeeded: 20_000,
    usersNeeded: 15_100,
    machine: machineInfo(),
    metrics: roundMetrics(rec.metrics()),
    byScenario: { opening: roundMetrics(rec.metrics({ scenario: 'opening' })) },
    outcomes: rec.outcomeTotals(),
    thresholds,
    reconciliation: {
      ok: true,
      reason: 'consistent',
      waitedMs: 1_200,
      report: { admitted: 1_000, remaining: 0, persisted: 1_000, pending: 0, duplicates: 0, overIssued: 0, consistent: true },
    },
    couponAtStart: { totalQuantity: 1_000, remaining: 1_000, issuedCount: 0 },
    generator: { connections: 2_000, interrupted: 0, aborted: null, startLagMs: { p50: 0.1, p99: 1.2, max: 4, count: 15_000 } },
    definition: { scenarios: file.scenarios, thresholds: file.thresholds, plan: file.plan, stock: file.stock },
    series: rec.series(),
    stock,
    lag: withLag ? stock.map((p) => ({ t: p.t, lag: Math.max(0, 1_000 - p.remaining - p.issuedCount) })) : null,
    lagNote: withLag ? '' : 'N/A: Prometheus at http://127.0.0.1:9090 not reachable (fetch failed)',
    passed: false,
    failures: ['threshold http_5xx{scenario:opening}: count==0 (actual 1)'],
  };
}

describe('load-test HTML report in headless Chromium', { timeout: 120_000 }, () => {
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'loadtest-report-'));

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(async () => {
    await browser?.close();
  });

  async function open(summary: LoadTestSummary, name: string) {
    const path = join(dir, `${name}.html`);
    writeFileSync(path, renderReport(summary));
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${path}`);
    await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
    return { page, requests, errors, path };
  }

  /** Paints an SVG element onto a canvas and counts pixels that are not white or near-white. */
  const inkedPixels = (id: string) =>
    `(async () => {
    const svg = document.getElementById(${JSON.stringify('__ID__')});
    const { width, height } = svg.getBoundingClientRect();
    const img = new Image();
    img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(new XMLSerializer().serializeToString(svg));
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.ceil(width);
    canvas.height = Math.ceil(height);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let inked = 0, coloured = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
      if (r < 235 || g < 235 || b < 235) inked++;
      if (Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
    }
    return { inked, coloured, total: data.length / 4 };
  })()`.replace('__ID__', id);

  it('draws every chart with real data, self-contained', async () => {
    const { page, requests, errors } = await open(syntheticSummary(true), 'with-lag');
    try {
      assert.deepEqual(errors, []);
      // Nothing but the file itself is fetched: no CDN, no fonts, no scripts.
      assert.deepEqual(
        requests.filter((u) => !u.startsWith('file://') && !u.startsWith('data:')),
        [],
      );
      assert.equal(await page.locator('script, link[rel=stylesheet], img[src^=http]').count(), 0);
      assert.match(await page.title(), /event-opening: failed/);

      for (const id of CHARTS) {
        const chart = page.locator(`svg#${id}`);
        assert.equal(await chart.count(), 1, id);
        const box = (await chart.boundingBox())!;
        assert.ok(box.width > 600 && box.height > 150, `${id}: ${JSON.stringify(box)}`);
        const paths = await chart.locator('path.series').evaluateAll((els) =>
          els.map((e) => {
            const b = (e as unknown as { getBBox(): { width: number; height: number } }).getBBox();
            return {
              points: Number(e.getAttribute('data-points')),
              segments: (e.getAttribute('d') ?? '').split(/[ML]/).filter((part: string) => part.trim()).length,
              box: { width: b.width, height: b.height },
            };
          }),
        );
        assert.ok(paths.length >= 1, `${id}: no series drawn`);
        const best = paths.reduce((a, b) => (b.segments > a.segments ? b : a));
        assert.ok(best.segments >= 20, `${id}: only ${best.segments} points`);
        assert.ok(best.box.width > 300 && best.box.height > 20, `${id}: series spans ${JSON.stringify(best.box)}`);
        const ink = (await page.evaluate(inkedPixels(id))) as { inked: number; coloured: number; total: number };
        assert.ok(ink.coloured > 800, `${id}: only ${ink.coloured} coloured pixels of ${ink.total}`);
      }
      // The latency chart marks the thresholds, the outcomes chart stacks each answer kind.
      assert.ok((await page.locator('#chart-latency .marker').count()) >= 2);
      const layers = await page.locator('#chart-outcomes path.area').evaluateAll((els) => els.map((e) => e.getAttribute('data-series')));
      assert.deepEqual([...layers].sort(), ['202 ACCEPTED', '409 SOLD_OUT', '503 UNAVAILABLE']);
      // Tables: the verdicts are there in words too.
      // biome-ignore lint/performance/useDomNodeTextContent: Playwright's locator, not a DOM node: the text as rendered.
      const text = await page.locator('body').innerText();
      assert.match(text, /FAILED/);
      assert.match(text, /http_req_duration\{scenario:opening\}\s+p\(95\)<50/);
      assert.match(text, /consistent/);
    } finally {
      await page.close();
    }
  });

  it('shows N/A for the consumer lag when Prometheus gave nothing', async () => {
    const { page } = await open(syntheticSummary(false), 'no-lag');
    try {
      const lag = page.locator('svg#chart-lag');
      assert.equal(await lag.locator('path.series').count(), 0);
      assert.match(await lag.innerHTML(), /N\/A: Prometheus at http:\/\/127\.0\.0\.1:9090 not reachable/);
      for (const id of CHARTS.filter((c) => c !== 'chart-lag')) assert.ok((await page.locator(`svg#${id} path.series`).count()) >= 1, id);
    } finally {
      await page.close();
    }
  });
});
