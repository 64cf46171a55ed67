/**
 * The Grafana dashboard and the Prometheus alert rules in ops/, and the README's list of metrics,
 * against a real server's GET /metrics: every spotcast_* metric they name exists there, with the
 * type the query needs (a quantile over a histogram's buckets). A renamed metric fails here, not
 * silently on an operator's empty panel or an alert that can never fire.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CORE_SCHEMA, load } from 'js-yaml';
import { fromPackageRoot } from '../server/platform/package-root.js';
import { scrapeOf, type Scrape } from './helpers/prometheus.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const read = (...p: string[]) => readFileSync(fromPackageRoot(...p), 'utf8');
const HISTOGRAM_PARTS = /_(bucket|sum|count)$/;

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string; refId: string }[];
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description?: string };
}

const dashboard = JSON.parse(read('ops', 'grafana-dashboard.json')) as { panels: Panel[]; templating: { list: { name: string; definition?: string }[] } };
const rules = (load(read('ops', 'alerts.yml'), { schema: CORE_SCHEMA }) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const panelQueries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
const queries = [
  ...panelQueries,
  ...dashboard.templating.list.filter((v) => v.definition).map((v) => ({ where: `variable ${v.name}`, expr: v.definition! })),
  ...rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
];

/** The spotcast_* series names a query reads. */
const metricNames = (expr: string) => [...new Set(expr.match(/\bspotcast_[a-zA-Z0-9_]+/g) ?? [])];

function balanced(expr: string): boolean {
  const open: string[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  for (const c of expr.replace(/"[^"]*"/g, '')) {
    if ('([{'.includes(c)) open.push(c);
    else if (c in pairs && open.pop() !== pairs[c]) return false;
  }
  return open.length === 0;
}

describe('ops/: the Grafana dashboard and the Prometheus alert rules', function () {
  this.timeout(30_000);
  let server: TestServer;
  let scrape: Scrape;
  before(async () => {
    server = await startTestServer({ NODE_ID: 'ops-node' });
    scrape = await scrapeOf(server);
  });
  after(() => server.stop());

  /** The family a series name belongs to, and that family's type on the server. */
  const familyOf = (name: string): { family: string; type: string | undefined } => {
    const base = name.replace(HISTOGRAM_PARTS, '');
    if (base !== name && scrape.types.get(base) === 'histogram') return { family: base, type: 'histogram' };
    return { family: name, type: scrape.types.get(name) };
  };

  it('the dashboard is well formed: unique panel ids, each panel placed and querying something', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
    for (const p of dashboard.panels) {
      assert.ok(p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `panel "${p.title}" fits the 24-column grid`);
      if (p.type === 'row') continue;
      assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has a query`);
    }
    assert.ok(panelQueries.length >= 20, `${panelQueries.length} queries`);
  });

  it('the alert rules are well formed: unique names, a severity, a summary', () => {
    assert.ok(rules.length >= 8);
    assert.equal(new Set(rules.map((r) => r.alert)).size, rules.length, 'unique alert names');
    for (const r of rules) {
      assert.match(r.alert, /^Spotcast[A-Za-z]+$/);
      assert.ok(['warning', 'critical'].includes(r.labels.severity), `${r.alert} severity`);
      assert.ok(r.annotations.summary, `${r.alert} summary`);
      if (r.for !== undefined) assert.match(r.for, /^\d+[smh]$/, `${r.alert} for`);
    }
  });

  it("they watch what the README's Operations section names: readiness, outbox lag, re-deliveries, rate-limit refusals, pool saturation", () => {
    const watched = new Set(rules.flatMap((r) => metricNames(r.expr)).map((n) => n.replace(HISTOGRAM_PARTS, '')));
    for (const name of ['spotcast_readiness', 'spotcast_outbox_lag_seconds', 'spotcast_outbox_redelivered_total', 'spotcast_rate_limited_total', 'spotcast_db_pool_connections']) {
      assert.ok(watched.has(name), `an alert on ${name}`);
    }
    const shown = new Set(panelQueries.flatMap((q) => metricNames(q.expr)).map((n) => n.replace(HISTOGRAM_PARTS, '')));
    for (const name of scrape.types.keys()) {
      if (name.startsWith('spotcast_') && !/^spotcast_(process|nodejs)_/.test(name)) assert.ok(shown.has(name), `a panel for ${name}`);
    }
  });

  it("every spotcast metric a panel, a variable or an alert reads is in a real server's /metrics, of the type the query needs", () => {
    let checked = 0;
    for (const { where, expr } of queries) {
      assert.ok(balanced(expr), `${where}: unbalanced brackets in ${expr}`);
      for (const name of metricNames(expr)) {
        const { family, type } = familyOf(name);
        assert.ok(type, `${where} reads ${name}, which /metrics does not declare`);
        if (/histogram_quantile/.test(expr) && name.endsWith('_bucket')) assert.equal(type, 'histogram', `${where}: ${family}`);
        if (name.endsWith('_total')) assert.equal(type, 'counter', `${where}: ${family}`);
        checked++;
      }
    }
    assert.ok(checked >= 30, `${checked} metric references checked`);
  });

  it("every spotcast metric the README's Operations section lists is in /metrics", () => {
    const ops = /## Operations([\s\S]*?)\n## /.exec(read('README.md'))?.[1];
    assert.ok(ops);
    const named = metricNames(ops).filter((n) => !n.endsWith('_'));
    assert.ok(named.length >= 15, `${named.length} metrics named`);
    for (const name of named) assert.ok(familyOf(name).type, `the README names ${name}, which /metrics does not declare`);
  });
});
