import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { allPanels, alertThresholds, dashboardFiles, loadDashboard, loadRules, ROOT } from './observability.ts';

/**
 * The Grafana dashboards as files: valid JSON Grafana can provision, every query through the
 * ${datasource} variable, thresholds at the alert levels, and a provisioning path that matches
 * where docker-compose.yml mounts them. What the queries return is test/metrics/dashboards-live.test.ts.
 */
describe('Grafana dashboards (files)', () => {
  it('include the event overview and the drill-down', () => {
    for (const file of ['fcfs-event-overview.json', 'fcfs-drill-down.json']) assert.ok(dashboardFiles().includes(file), file);
  });

  for (const file of dashboardFiles()) {
    describe(file, () => {
      const text = readFileSync(new URL(`dashboards/${file}`, ROOT), 'utf8');

      it('is a dashboard Grafana can load: JSON, uid, title, schemaVersion, panels', () => {
        const d = JSON.parse(text) as Record<string, unknown>;
        assert.equal(typeof d.uid, 'string');
        assert.match(d.uid as string, /^[a-zA-Z0-9_-]{1,40}$/, 'Grafana uids are at most 40 of [a-zA-Z0-9_-]');
        assert.equal(d.uid, file.replace(/\.json$/, ''), 'uid matches the file name');
        assert.ok(typeof d.title === 'string' && d.title.length > 0);
        assert.ok(Number.isInteger(d.schemaVersion) && (d.schemaVersion as number) >= 36, 'schemaVersion');
        // Provisioned from a file: no numeric id, which would clash with the database's.
        assert.ok(d.id === undefined || d.id === null);
        assert.ok(Array.isArray(d.panels) && d.panels.length > 0);
      });

      const dashboard = loadDashboard(file);
      const panels = allPanels(dashboard);

      it('has the datasource and coupon variables', () => {
        const vars = dashboard.templating?.list ?? [];
        const ds = vars.find((v) => v.name === 'datasource');
        assert.ok(ds, 'a datasource variable');
        assert.equal(ds.type, 'datasource');
        assert.equal(ds.query, 'prometheus');
        const coupon = vars.find((v) => v.name === 'coupon');
        assert.ok(coupon, 'a coupon variable');
        assert.equal(coupon.type, 'query');
        assert.equal(coupon.datasource?.uid, '${datasource}');
        const q = typeof coupon.query === 'string' ? coupon.query : (coupon.query as { query?: string }).query;
        assert.equal(q, 'label_values(coupon_admissions_total, coupon_id)');
      });

      it('lays every panel out on the 24-column grid without overlaps', () => {
        const ids = new Set<number>();
        const cells = new Set<string>();
        for (const p of panels) {
          assert.ok(Number.isInteger(p.id), `${p.title}: id`);
          assert.ok(!ids.has(p.id!), `${p.title}: duplicate id ${p.id}`);
          ids.add(p.id!);
          const g = p.gridPos;
          assert.ok(g, `${p.title}: gridPos`);
          for (const k of ['h', 'w', 'x', 'y'] as const) assert.ok(Number.isInteger(g[k]) && g[k]! >= 0, `${p.title}: gridPos.${k}`);
          assert.ok(g.w! >= 1 && g.x! + g.w! <= 24, `${p.title}: within 24 columns`);
          for (let x = g.x!; x < g.x! + g.w!; x++) {
            for (let y = g.y!; y < g.y! + g.h!; y++) {
              assert.ok(!cells.has(`${x},${y}`), `${p.title}: overlaps another panel at ${x},${y}`);
              cells.add(`${x},${y}`);
            }
          }
        }
      });

      it('queries Prometheus through ${datasource} in every panel and target, with a unit set', () => {
        const queryPanels = panels.filter((p) => p.type !== 'row');
        assert.ok(queryPanels.length >= 8, 'a real dashboard');
        for (const p of queryPanels) {
          assert.ok(p.title, 'every panel has a title');
          assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `${p.title}: datasource`);
          assert.ok(p.targets && p.targets.length > 0, `${p.title}: targets`);
          for (const t of p.targets) {
            assert.ok(t.expr && t.expr.trim().length > 0, `${p.title}: expr`);
            assert.equal(t.datasource?.uid, '${datasource}', `${p.title} ${t.refId}: datasource`);
            assert.ok(t.refId, `${p.title}: refId`);
          }
          assert.ok(p.fieldConfig?.defaults?.unit, `${p.title}: unit`);
          const steps = p.fieldConfig?.defaults?.thresholds?.steps;
          assert.ok(steps && steps.length > 0 && steps[0]!.value === null, `${p.title}: thresholds start with a base step`);
        }
      });

      it('sets thresholds at the alert levels wherever a panel shows an alerted series', () => {
        const levels = alertThresholds(loadRules());
        assert.ok(levels.size >= 6, 'latency, errors, CPU, memory, DB pool and lag are alerted at levels');
        for (const p of panels.filter((x) => x.type !== 'row')) {
          const exprs = (p.targets ?? []).map((t) => t.expr ?? '').join('\n');
          const steps = (p.fieldConfig?.defaults?.thresholds?.steps ?? []).map((s) => s.value);
          for (const [series, values] of levels) {
            if (!new RegExp(`(^|[^\\w:])${series.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w:])`).test(exprs)) continue;
            for (const v of values)
              assert.ok(steps.includes(v), `${p.title}: shows ${series}, alerted at ${v}, thresholds ${JSON.stringify(steps)}`);
          }
        }
      });
    });
  }

  it('each alert level is on some panel', () => {
    const shown = new Set<string>();
    for (const file of dashboardFiles()) {
      for (const p of allPanels(loadDashboard(file))) for (const t of p.targets ?? []) shown.add(t.expr ?? '');
    }
    const all = [...shown].join('\n');
    for (const series of alertThresholds(loadRules()).keys()) assert.ok(all.includes(series), `no panel shows ${series}`);
  });

  it('are provisioned from where docker-compose.yml mounts them', () => {
    const compose = parse(readFileSync(new URL('docker-compose.yml', ROOT), 'utf8'), { merge: true }) as {
      services: Record<string, { volumes?: string[] }>;
    };
    const volumes = compose.services.grafana?.volumes ?? [];
    const mount = (host: string) => volumes.map((v) => v.split(':')).find(([h]) => h === host)?.[1];
    const dashboardsAt = mount('./dashboards');
    const provisioningAt = mount('./dashboards/provisioning');
    assert.ok(dashboardsAt, 'docker-compose.yml mounts ./dashboards into Grafana');
    assert.equal(provisioningAt, '/etc/grafana/provisioning');
    const provider = parse(readFileSync(new URL('dashboards/provisioning/dashboards/dashboards.yml', ROOT), 'utf8')) as {
      providers: { type: string; options: { path: string } }[];
    };
    assert.equal(provider.providers.length, 1);
    assert.equal(provider.providers[0]!.type, 'file');
    assert.equal(provider.providers[0]!.options.path, dashboardsAt);
    const datasources = parse(readFileSync(new URL('dashboards/provisioning/datasources/prometheus.yml', ROOT), 'utf8')) as {
      datasources: { type: string; isDefault?: boolean }[];
    };
    // ${datasource} starts on the default datasource: it must be a Prometheus one.
    assert.ok(datasources.datasources.some((d) => d.type === 'prometheus' && d.isDefault));
  });
});
