import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { allPanels, loadDashboards } from './dashboards.js';
import { jsonDataProblems, PLUGIN_SETTINGS, provisionedDataSources } from './plugin-settings.js';

/**
 * The data source provisioning file as Grafana hands it to the plugin version the deployments
 * install: every jsonData key typed as that version's settings code reads it, and that version
 * named in one place (deploy/grafana.env) that docker compose and Kubernetes both read.
 */

const PLUGIN = 'grafana-clickhouse-datasource';
const REPO = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, REPO), 'utf8');

/** The plugin and version GF_PLUGINS_PREINSTALL_SYNC names in deploy/grafana.env. */
function pinnedPlugin(): { id: string; version: string } {
  const line = read('deploy/grafana.env')
    .split('\n')
    .find((l) => l.startsWith('GF_PLUGINS_PREINSTALL_SYNC='));
  const [id, version] = (line?.split('=')[1] ?? '').trim().split('@');
  return { id: id ?? '', version: version ?? '' };
}

/** Grafana's environment in compose and Kubernetes: the CLICKHOUSE_DS_* values both set. */
const GRAFANA_ENV = {
  CLICKHOUSE_DS_HOST: 'clickhouse',
  CLICKHOUSE_DS_PORT: '9000',
  CLICKHOUSE_DS_DATABASE: 'intentwatch',
  CLICKHOUSE_DS_USER: 'grafana',
  CLICKHOUSE_DS_PASSWORD: 'not-a-secret',
};

describe('the ClickHouse plugin version', () => {
  const pinned = pinnedPlugin();

  it('is pinned to one release in deploy/grafana.env, a version whose settings code the tests encode', () => {
    expect(pinned.id).toBe(PLUGIN);
    expect(pinned.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Object.keys(PLUGIN_SETTINGS)).toContain(pinned.version);
  });

  it('is what docker compose installs: the grafana service reads deploy/grafana.env and sets no plugin list of its own', () => {
    const compose = parse(read('deploy/compose.yaml'), { merge: true }) as {
      services: { grafana: { env_file: string[]; environment: Record<string, string> } };
    };
    expect(compose.services.grafana.env_file).toEqual(['./grafana.env']);
    expect(Object.keys(compose.services.grafana.environment)).not.toContain('GF_PLUGINS_PREINSTALL_SYNC');
    expect(read('deploy/compose.yaml')).not.toContain(`${PLUGIN}@`);
  });

  it('is what Kubernetes installs: Grafana’s env comes from the ConfigMap generated from the same file', () => {
    const kustomization = parse(read('deploy/kustomization.yaml')) as { configMapGenerator: { name: string; envs?: string[] }[] };
    expect(kustomization.configMapGenerator.find((g) => g.name === 'grafana-env')?.envs).toEqual(['grafana.env']);
    const deployment = parseAllDocuments(read('deploy/k8s/grafana.yaml'))
      .map((d) => d.toJS())
      .find((d) => d.kind === 'Deployment') as {
      spec: { template: { spec: { containers: { envFrom: unknown[]; env: { name: string }[] }[] } } };
    };
    const [container] = deployment.spec.template.spec.containers;
    expect(container?.envFrom).toContainEqual({ configMapRef: { name: 'grafana-env' } });
    expect(container?.env.map((e) => e.name)).not.toContain('GF_PLUGINS_PREINSTALL_SYNC');
    expect(read('deploy/k8s/grafana.yaml')).not.toContain(`${PLUGIN}@`);
  });

  it('is the version every dashboard query says it was written for', () => {
    for (const { dashboard } of loadDashboards()) {
      for (const panel of allPanels(dashboard)) {
        for (const t of panel.targets ?? []) expect(t.pluginVersion, `${dashboard.uid}/${panel.title}`).toBe(pinned.version);
      }
    }
  });
});

describe('the provisioned data source (dashboards/provisioning/datasources/clickhouse.yaml)', () => {
  const text = read('dashboards/provisioning/datasources/clickhouse.yaml');
  const [ds] = provisionedDataSources(text, GRAFANA_ENV);

  it('reaches the plugin with every jsonData key of a type the pinned version reads, and values it parses', () => {
    expect(ds?.type).toBe(PLUGIN);
    expect(jsonDataProblems(ds?.jsonData ?? {}, pinnedPlugin().version)).toEqual([]);
  });

  it('reaches the plugin with the values the deployments set, as strings where they came from the environment', () => {
    expect(ds?.jsonData).toMatchObject({
      host: 'clickhouse',
      port: '9000',
      protocol: 'native',
      secure: false,
      username: 'grafana',
      defaultDatabase: 'intentwatch',
    });
  });

  it('would also have been read by 4.11.2, the version pinned before, without its interface-conversion panic', () => {
    expect(jsonDataProblems(ds?.jsonData ?? {}, '4.11.2')).toEqual([]);
  });
});

describe('the jsonData check', () => {
  const before = `apiVersion: 1
datasources:
  - name: ch
    type: ${PLUGIN}
    jsonData:
      host: \${CLICKHOUSE_DS_HOST}
      port: \${CLICKHOUSE_DS_PORT}
      dialTimeout: 10
      queryTimeout: 60
`;

  it('finds the number dialTimeout that made every query of 4.11.2 panic', () => {
    const [ds] = provisionedDataSources(before, GRAFANA_ENV);
    expect(ds?.jsonData.dialTimeout).toBe(10);
    expect(jsonDataProblems(ds?.jsonData ?? {}, '4.11.2')).toEqual(['dialTimeout: a number panics in the plugin 4.11.2 (reads string)']);
    expect(jsonDataProblems(ds?.jsonData ?? {}, '4.20.0')).toEqual([]);
  });

  it('reads YAML as Grafana’s YAML 1.1 parser does, and finds keys the plugin never reads and strings it cannot parse', () => {
    const yaml = `datasources:
  - type: ${PLUGIN}
    jsonData:
      secure: yes
      tlsSkipVerify: "maybe"
      port: \${UNSET_PORT}
      dialTimout: "10"
`;
    const [ds] = provisionedDataSources(yaml, {});
    expect(ds?.jsonData.secure).toBe(true);
    expect(jsonDataProblems(ds?.jsonData ?? {}, '4.20.0')).toEqual([
      'tlsSkipVerify: "maybe" is not a Go bool',
      'port: "" is not a Go int',
      'dialTimout: not read by the plugin 4.20.0',
    ]);
  });
});
