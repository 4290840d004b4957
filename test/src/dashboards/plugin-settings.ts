import { parse } from 'yaml';

/**
 * How Grafana hands a provisioned data source's `jsonData` to the ClickHouse plugin, and what the
 * plugin's backend accepts, so that tests can check a provisioning file before a user loads it.
 *
 * Grafana (pkg/services/provisioning/values/values.go, `JSONValue.UnmarshalYAML`): the file is
 * read with gopkg.in/yaml.v2 (YAML 1.1: `yes`/`on` are booleans, `10` an integer), then every
 * *string* value goes through `os.ExpandEnv` (after `$__env{…}`/`$__file{…}` expanders; `$$` is a
 * literal `$`); numbers and booleans pass through unchanged. The map is stored as JSON, so the
 * plugin sees JSON types: a string stays a string even when it expands to "9000".
 *
 * The plugin (pkg/plugin/settings.go, `LoadSettings`) unmarshals jsonData into
 * `map[string]interface{}` and reads each key with a Go type assertion. An unchecked assertion
 * (`jsonData["x"].(string)`) panics on any other type — the "interface conversion" panic that
 * fails every query and "Save & test".
 */

export type JsonType = 'string' | 'number' | 'boolean' | 'array' | 'object' | 'null';

/** What settings.go does with one key: the JSON types it reads, and how a string is parsed. */
export interface KeyRule {
  /** JSON types read without a panic. */
  accepts: JsonType[];
  /** A type outside `accepts` panics (unchecked assertion) or is silently ignored (checked one). */
  otherwise: 'panics' | 'ignored';
  /** How a string value is parsed afterwards; a string it rejects is an error at connect time. */
  parse?: 'int' | 'bool' | 'seconds';
}

const str: KeyRule = { accepts: ['string'], otherwise: 'panics' };
const boolOrString: KeyRule = { accepts: ['boolean', 'string'], otherwise: 'panics', parse: 'bool' };

/**
 * pkg/plugin/settings.go of grafana/clickhouse-datasource at tag v4.20.0 (commit 973c4a50),
 * `LoadSettings` and `loadHttpHeaders`. Keys not listed are not read by the backend.
 */
const V4_20_0: Record<string, KeyRule> = {
  server: str,
  host: str,
  port: { accepts: ['string', 'number'], otherwise: 'panics', parse: 'int' },
  protocol: str,
  secure: boolOrString,
  path: str,
  tlsSkipVerify: boolOrString,
  tlsAuth: boolOrString,
  tlsAuthWithCACert: boolOrString,
  username: str,
  defaultDatabase: str,
  // `if val, ok := jsonData["dialTimeout"].(string); !ok { if val, ok := ….(float64) …` (#1559, 4.14.0)
  timeout: { accepts: ['string', 'number'], otherwise: 'ignored', parse: 'seconds' },
  dialTimeout: { accepts: ['string', 'number'], otherwise: 'ignored', parse: 'seconds' },
  queryTimeout: { accepts: ['string', 'number'], otherwise: 'ignored', parse: 'seconds' },
  customSettings: { accepts: ['array'], otherwise: 'panics' },
  forwardGrafanaHeaders: boolOrString,
  enableRowLimit: boolOrString,
  enableSchemaCache: { accepts: ['boolean', 'string'], otherwise: 'ignored', parse: 'bool' },
  schemaCacheTTLSeconds: { accepts: ['number', 'string'], otherwise: 'ignored', parse: 'int' },
  rowCapacityHint: { accepts: ['number', 'string'], otherwise: 'ignored', parse: 'int' },
  httpHeaders: { accepts: ['array'], otherwise: 'panics' },
};

/**
 * The same file at tag v4.11.2 (the version pinned before): `timeout` and `dialTimeout` were
 * read with `jsonData["dialTimeout"].(string)`, unchecked, and the schema cache and row capacity
 * keys did not exist.
 */
const V4_11_2: Record<string, KeyRule> = Object.fromEntries(
  Object.entries({ ...V4_20_0, timeout: { ...str, parse: 'seconds' }, dialTimeout: { ...str, parse: 'seconds' } } as Record<
    string,
    KeyRule
  >).filter(([key]) => !['enableSchemaCache', 'schemaCacheTTLSeconds', 'rowCapacityHint'].includes(key)),
);

/** The backend's jsonData rules of each plugin version read. */
export const PLUGIN_SETTINGS: Record<string, Record<string, KeyRule>> = { '4.11.2': V4_11_2, '4.20.0': V4_20_0 };

/** Grafana's `interpolateValue`: `$$` is `$`; `$__env{X}`, `${X}` and `$X` read the environment (unset: empty). */
export function expandEnv(value: string, env: Record<string, string | undefined>): string {
  return value
    .split('$$')
    .map((part) =>
      part
        .replace(/\$__env\{([^}]*)\}/g, (_m, name: string) => env[name] ?? '')
        .replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, braced?: string, bare?: string) => env[(braced ?? bare) as string] ?? ''),
    )
    .join('$');
}

function interpolate(value: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') return expandEnv(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  }
  return value;
}

export interface ProvisionedDataSource {
  name: string;
  uid: string;
  type: string;
  jsonData: Record<string, unknown>;
  secureJsonData?: Record<string, string>;
}

/** The data sources of a provisioning file as the plugin receives them: YAML 1.1, env expanded in strings, through JSON. */
export function provisionedDataSources(yamlText: string, env: Record<string, string | undefined>): ProvisionedDataSource[] {
  const file = parse(yamlText, { version: '1.1' }) as { datasources?: ProvisionedDataSource[] };
  return (file.datasources ?? []).map(
    (ds) => JSON.parse(JSON.stringify({ ...ds, jsonData: interpolate(ds.jsonData ?? {}, env) })) as ProvisionedDataSource,
  );
}

export function jsonType(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value as JsonType;
}

/** strconv.ParseBool's accepted spellings. */
const GO_BOOLS = ['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'];

/**
 * What is wrong with `jsonData` for the plugin version's rules: a type its backend panics on or
 * ignores, a string it cannot parse, or a key it does not read. Empty when the plugin takes it.
 */
export function jsonDataProblems(jsonData: Record<string, unknown>, version: string): string[] {
  const rules = PLUGIN_SETTINGS[version];
  if (!rules) throw new Error(`no settings rules for grafana-clickhouse-datasource ${version}`);
  const problems: string[] = [];
  for (const [key, value] of Object.entries(jsonData)) {
    const rule = rules[key];
    if (!rule) {
      problems.push(`${key}: not read by the plugin ${version}`);
      continue;
    }
    // settings.go skips nil values (`if jsonData["x"] != nil`).
    if (value === null) continue;
    const type = jsonType(value);
    if (!rule.accepts.includes(type)) {
      problems.push(
        `${key}: a ${type} ${rule.otherwise === 'panics' ? 'panics' : 'is ignored'} in the plugin ${version} (reads ${rule.accepts.join(' or ')})`,
      );
      continue;
    }
    if (type !== 'string' || !rule.parse) continue;
    const text = value as string;
    const ok =
      rule.parse === 'bool'
        ? GO_BOOLS.includes(text)
        : rule.parse === 'int'
          ? /^[+-]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|\d+)$/.test(text)
          : /^\d+$/.test(text);
    if (!ok) problems.push(`${key}: "${text}" is not ${rule.parse === 'seconds' ? 'a whole number of seconds' : `a Go ${rule.parse}`}`);
  }
  return problems;
}
