import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository's dashboards/ folder. */
export const DASHBOARDS_DIR = fileURLToPath(new URL('../../../dashboards/', import.meta.url));

export interface Target {
  refId: string;
  rawSql: string;
  format: number;
  queryType: string;
  editorType: string;
  pluginVersion?: string;
  datasource: { type: string; uid: string };
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  fieldConfig?: { defaults: unknown; overrides: { matcher: unknown; properties: { id: string; value: unknown }[] }[] };
  panels?: Panel[];
}

export interface Variable {
  name: string;
  type: string;
  /** The SQL of a query variable (as the plugin's own dashboards store it), a plugin id, or a custom list. */
  query: string;
  definition?: string;
  current?: { value?: string | string[] };
  datasource?: { type: string; uid: string };
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

export interface DashboardFile {
  file: string;
  dashboard: Dashboard;
}

/** Every dashboard JSON of dashboards/json/, parsed. */
export function loadDashboards(): DashboardFile[] {
  const dir = `${DASHBOARDS_DIR}json/`;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(dir + file, 'utf8')) as Dashboard }));
}

/** Panels of a dashboard, including those nested in rows. */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}
