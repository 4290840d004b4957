import { existsSync, readFileSync } from 'node:fs';
import { migrationSql } from '@intentwatch/core';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { allPanels, DASHBOARDS_DIR, loadDashboards } from './dashboards.js';

const PLUGIN = 'grafana-clickhouse-datasource';
const REPO = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, REPO), 'utf8');

const dashboards = loadDashboards();
const datasource = parse(read('dashboards/provisioning/datasources/clickhouse.yaml')) as {
  apiVersion: number;
  datasources: { uid: string; type: string; jsonData: Record<string, unknown>; secureJsonData: Record<string, string> }[];
};
const provider = parse(read('dashboards/provisioning/dashboards/intentwatch.yaml')) as {
  providers: { type: string; folder: string; options: { path: string } }[];
};

/** Tables the migrations create (single-node form), and every column of each. */
function schema(): Map<string, Set<string>> {
  const tables = new Map<string, Set<string>>();
  for (const sql of migrationSql({ database: 'intentwatch', retentionDays: 30 })) {
    const m = /CREATE TABLE IF NOT EXISTS `intentwatch`\.`(\w+)` \(\n([\s\S]*?)\n\)\nENGINE/.exec(sql);
    if (!m) continue;
    const columns = (m[2] as string)
      .split(',\n')
      .map((line) => line.trim())
      .filter((line) => !line.startsWith('INDEX '))
      .map((line) => line.split(/\s+/)[0] as string);
    tables.set(m[1] as string, new Set(columns));
  }
  return tables;
}

describe('dashboard files', () => {
  it('are dashboards with unique uids, all in the kustomization that ships them to Kubernetes', () => {
    expect(dashboards.map((d) => d.file)).toEqual(['agent-behaviour.json', 'overview.json', 'responders.json', 'token-investigation.json']);
    const uids = dashboards.map((d) => d.dashboard.uid);
    expect(new Set(uids).size).toBe(uids.length);
    const kustomization = parse(read('dashboards/kustomization.yaml')) as { configMapGenerator: { name: string; files: string[] }[] };
    const shipped = kustomization.configMapGenerator.flatMap((g) => g.files);
    for (const { file } of dashboards) expect(shipped).toContain(`json/${file}`);
    for (const f of shipped) expect(existsSync(`${DASHBOARDS_DIR}${f}`), f).toBe(true);
  });

  it('query the ClickHouse plugin through the datasource variable, in SQL mode, defaulting to the provisioned data source', () => {
    for (const { dashboard } of dashboards) {
      const variable = dashboard.templating.list.find((v) => v.name === 'datasource');
      expect(variable?.type).toBe('datasource');
      expect(variable?.query).toBe(PLUGIN);
      expect(variable?.current?.value).toBe(datasource.datasources[0]?.uid);
      for (const panel of allPanels(dashboard).filter((p) => p.type !== 'row')) {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax, not a JavaScript template
        expect(panel.datasource, `${dashboard.uid}/${panel.title}`).toEqual({ type: PLUGIN, uid: '${datasource}' });
        expect(panel.targets?.length, `${dashboard.uid}/${panel.title}`).toBeGreaterThan(0);
        for (const t of panel.targets ?? []) {
          // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax, not a JavaScript template
          expect(t.datasource).toEqual({ type: PLUGIN, uid: '${datasource}' });
          expect(t.editorType).toBe('sql');
          // Without a v4 pluginVersion the plugin takes a query for a v3 one and migrates it.
          expect(Number(t.pluginVersion?.split('.')[0])).toBeGreaterThanOrEqual(4);
          expect([0, 1]).toContain(t.format);
          expect(t.queryType).toBe(t.format === 0 ? 'timeseries' : 'table');
        }
      }
    }
  });

  it('store each query variable’s SQL as a string, as the plugin’s own dashboards do, so the variable editor shows it', () => {
    const variables = dashboards.flatMap(({ dashboard }) => dashboard.templating.list.filter((v) => v.type === 'query'));
    expect(variables.map((v) => v.name).sort()).toEqual(['agent', 'policy', 'token']);
    for (const v of variables) {
      expect(typeof v.query, v.name).toBe('string');
      expect(v.query, v.name).toMatch(/^SELECT /);
      expect(v.definition, v.name).toBe(v.query);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax, not a JavaScript template
      expect(v.datasource, v.name).toEqual({ type: PLUGIN, uid: '${datasource}' });
    }
  });

  it('use the time picker through macros, never a hard-coded range', () => {
    for (const { dashboard } of dashboards) {
      for (const panel of allPanels(dashboard)) {
        for (const t of panel.targets ?? []) {
          expect(t.rawSql, `${dashboard.uid}/${panel.title}`).not.toMatch(/INTERVAL \d+ (HOUR|DAY|MINUTE)|now\(\) - /i);
          expect(t.rawSql).not.toMatch(/\d{4}-\d{2}-\d{2}/);
        }
      }
    }
  });

  it('name only tables and columns of the schema', () => {
    const tables = schema();
    const known = new Set([...tables.values()].flatMap((c) => [...c]));
    for (const { dashboard } of dashboards) {
      for (const panel of allPanels(dashboard)) {
        for (const t of panel.targets ?? []) {
          for (const [, table] of t.rawSql.matchAll(/\b(?:FROM|JOIN)\s+([a-z_]+)\b/g)) {
            // CTE names (grants, up, down, chain) are defined in the query itself.
            if (new RegExp(`\\b${table}\\s+AS\\s+\\(`).test(t.rawSql)) continue;
            expect(tables.has(table as string), `${dashboard.uid}/${panel.title}: table ${table}`).toBe(true);
          }
          for (const [, alias, column] of t.rawSql.matchAll(/\b(a|t|e|g|spans)\.([a-z_]+)\b/g)) {
            if (alias === 't' || alias === 'e' || alias === 'g' || alias === 'a' || alias === 'spans') {
              const ok = alias === 't' ? ['alert_id', 'status', 'assignee'].includes(column as string) : known.has(column as string);
              expect(ok, `${dashboard.uid}/${panel.title}: ${alias}.${column}`).toBe(true);
            }
          }
        }
      }
    }
  });

  it('link only to dashboards that exist', () => {
    const uids = new Set(dashboards.map((d) => d.dashboard.uid));
    const text = dashboards.map((d) => JSON.stringify(d.dashboard)).join('\n');
    const linked = [...text.matchAll(/\/d\/([\w-]+)\//g)].map((m) => m[1]);
    expect(linked.length).toBeGreaterThan(0);
    for (const uid of linked) expect(uids.has(uid as string), uid).toBe(true);
  });
});

describe('Grafana provisioning', () => {
  it('provisions the official ClickHouse plugin over the native protocol with a read-only user and a secret password', () => {
    expect(datasource.apiVersion).toBe(1);
    const [ds] = datasource.datasources;
    expect(ds?.type).toBe(PLUGIN);
    expect(ds?.jsonData).toMatchObject({
      protocol: 'native',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax, not a JavaScript template
      defaultDatabase: '${CLICKHOUSE_DS_DATABASE}',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax, not a JavaScript template
      username: '${CLICKHOUSE_DS_USER}',
    });
    expect(Object.keys(ds?.jsonData ?? {})).toEqual(expect.arrayContaining(['host', 'port', 'protocol', 'username', 'defaultDatabase']));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax, not a JavaScript template
    expect(ds?.secureJsonData.password).toBe('${CLICKHOUSE_DS_PASSWORD}');
  });

  it('loads the dashboards from the directory compose and Kubernetes mount them at, and gets its settings from both', () => {
    const [p] = provider.providers;
    expect(p?.type).toBe('file');
    const compose = parse(read('deploy/compose.yaml'), { merge: true }) as {
      services: Record<string, { volumes: string[]; environment: Record<string, string> }>;
    };
    const grafana = compose.services.grafana;
    expect(grafana?.volumes).toContain(`../dashboards/json:${p?.options.path}:ro`);
    const k8s = parseAllDocuments(read('deploy/k8s/grafana.yaml')).map((d) => d.toJS()) as {
      kind: string;
      spec: { template: { spec: { containers: { env: { name: string }[]; volumeMounts: { name: string; mountPath: string }[] }[] } } };
    }[];
    const container = k8s.find((d) => d.kind === 'Deployment')?.spec.template.spec.containers[0];
    expect(container?.volumeMounts.find((m) => m.name === 'dashboards')?.mountPath).toBe(p?.options.path);
    const needed = [...read('dashboards/provisioning/datasources/clickhouse.yaml').matchAll(/\$\{(\w+)\}/g)].map((m) => m[1] as string);
    expect(needed.length).toBeGreaterThan(0);
    for (const name of needed) {
      expect(Object.keys(grafana?.environment ?? {}), `compose grafana ${name}`).toContain(name);
      expect(
        container?.env.map((e) => e.name),
        `k8s grafana ${name}`,
      ).toContain(name);
    }
  });
});
