/**
 * Turns a panel's `rawSql` into the SQL that the official ClickHouse data source for Grafana
 * (`grafana-clickhouse-datasource` v4) sends to ClickHouse, so that tests can run exactly that.
 * Two steps, as in the plugin:
 *
 * 1. In the browser, `Datasource.applyTemplateVariables` (src/data/CHDatasource.ts) expands
 *    `$__conditionalAll(condition, $var)` (the condition, or `1=1` when the variable is empty or
 *    All) and then calls Grafana's `templateSrv.replace(sql, scopedVars, format)`, where the
 *    plugin's own `format` joins a multi-value variable as `'a','b'` and inserts a single value
 *    as it is (no quoting). An explicit format `${var:sqlstring}` overrides that: Grafana's
 *    "SQL string" format quotes each value with `'` and doubles the `'` inside ("Advanced
 *    variable format options", Grafana docs). `$var`, `${var}` and `${var:format}` are
 *    recognised; names that are no variable (such as `$__timeFilter`) are left alone.
 *
 * 2. In the plugin's backend, the macros of pkg/macros/macros.go, applied by
 *    grafana-plugin-sdk-go's `sqlutil.Interpolate` (data/sqlutil/macros.go; from 4.20.0 by
 *    grafana/macropro, with the same expansions for every macro below — re-read at tag v4.20.0,
 *    the version deploy/grafana.env pins): a macro takes
 *    arguments only when `(` immediately follows its name (otherwise it is argument-less), the
 *    arguments run to the matching `)` and split at top-level commas, longer macro names apply
 *    before shorter ones, and `\b` ends a name (so `$__timeFilter_ms` is not `$__timeFilter`).
 *    The expansions, from macros.go and the plugin's README:
 *      $__timeFilter(c)     c >= toDateTime(<from s>) AND c <= toDateTime(<to s>)
 *      $__timeFilter_ms(c)  c >= fromUnixTimestamp64Milli(<from ms>) AND c <= fromUnixTimestamp64Milli(<to ms>)
 *      $__dateFilter(c)     c >= toDate('<from date>') AND c <= toDate('<to date>')
 *      $__dateTimeFilter(d, t) / $__dt(d, t)   (date filter) AND (time filter)
 *      $__fromTime / $__toTime          toDateTime(<s>)
 *      $__fromTime_ms / $__toTime_ms    fromUnixTimestamp64Milli(<ms>)
 *      $__timeInterval(c)   toStartOfInterval(toDateTime(c), INTERVAL <interval s, at least 1> second)
 *      $__timeInterval_ms(c) toStartOfInterval(toDateTime64(c, 3), INTERVAL <interval ms> millisecond)
 *      $__interval_s        <interval s, at least 1>
 *    A DateTime64 column compared with `toDateTime(<s>)` is compared by instant, so
 *    `$__timeFilter` on our DateTime64(9) columns keeps whole seconds at both ends.
 */

export interface TimeRange {
  fromMs: number;
  toMs: number;
  /** Grafana's interval for the panel (from the range and the panel's width). */
  intervalMs: number;
}

/** A dashboard variable's current value: one string, or several for multi-value variables. */
export type VariableValues = Record<string, string | string[]>;

export class MacroError extends Error {}

/** Step 1: what Grafana's frontend makes of the SQL before it leaves the browser. */
export function applyTemplateVariables(sql: string, variables: VariableValues, range: TimeRange): string {
  const withConditionals = applyConditionalAll(sql, variables);
  const builtins: VariableValues = {
    __from: String(range.fromMs),
    __to: String(range.toMs),
    __interval_ms: String(range.intervalMs),
  };
  const all = { ...builtins, ...variables };
  const pattern = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;
  return withConditionals.replace(pattern, (match, plain, bracket, bracketFormat, braced, _fieldPath, bracedFormat) => {
    const name: string = plain ?? bracket ?? braced;
    if (name === '__interval') throw new MacroError('$__interval is Grafana text such as "1m"; use $__interval_s in SQL');
    if (!(name in all)) return match;
    const value = all[name] as string | string[];
    const format: string | undefined = bracketFormat ?? bracedFormat;
    return format ? applyFormat(value, format) : pluginFormat(value);
  });
}

/** The ClickHouse plugin's default formatting (CHDatasource.format). */
function pluginFormat(value: string | string[]): string {
  return Array.isArray(value) ? `'${value.join("','")}'` : value;
}

function applyFormat(value: string | string[], format: string): string {
  const values = Array.isArray(value) ? value : [value];
  switch (format) {
    case 'sqlstring':
      return values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',');
    case 'singlequote':
      return values.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    case 'csv':
      return values.join(',');
    case 'raw':
    case 'text':
      return values.join(',');
    default:
      throw new MacroError(`variable format :${format} is not modelled here`);
  }
}

function applyConditionalAll(sql: string, variables: VariableValues): string {
  const macro = '$__conditionalAll(';
  let out = sql;
  for (let at = out.lastIndexOf(macro); at !== -1; at = out.lastIndexOf(macro)) {
    const parsed = parseArgs(out.slice(at + macro.length - 1));
    if (parsed?.args.length !== 2) throw new MacroError(`$__conditionalAll needs 2 arguments at: ${out.slice(at, at + 80)}`);
    const [condition, variable] = parsed.args as [string, string];
    const value = variables[variable.trim().replace(/^\$\{?|\}$/g, '')];
    const selected = Array.isArray(value) ? value.join(',') : (value ?? '');
    const replacement = selected === '' || selected === '$__all' ? '1=1' : condition;
    out = out.slice(0, at) + replacement + out.slice(at + macro.length - 1 + parsed.length);
  }
  return out;
}

type Macro = (args: string[] | undefined, range: TimeRange) => string;

const seconds = (ms: number) => Math.floor(ms / 1000);
const toDateTime = (ms: number) => `toDateTime(${seconds(ms)})`;
const toDateTime64 = (ms: number) => `fromUnixTimestamp64Milli(${Math.floor(ms)})`;
const toDate = (ms: number) => `toDate('${new Date(ms).toISOString().slice(0, 10)}')`;
const intervalS = (r: TimeRange) => Math.max(Math.floor(r.intervalMs / 1000), 1);

function oneArg(name: string, args: string[] | undefined): string {
  if (args?.length !== 1) throw new MacroError(`$__${name} expects 1 argument, received ${args?.length ?? 0}`);
  return args[0] as string;
}

/** pkg/macros/macros.go of grafana-clickhouse-datasource, plus sqlutil's defaults it does not override. */
const MACROS: Record<string, Macro> = {
  fromTime: (_a, r) => toDateTime(r.fromMs),
  toTime: (_a, r) => toDateTime(r.toMs),
  fromTime_ms: (_a, r) => toDateTime64(r.fromMs),
  toTime_ms: (_a, r) => toDateTime64(r.toMs),
  timeFilter: (a, r) => {
    const c = oneArg('timeFilter', a);
    return `${c} >= ${toDateTime(r.fromMs)} AND ${c} <= ${toDateTime(r.toMs)}`;
  },
  timeFilter_ms: (a, r) => {
    const c = oneArg('timeFilter_ms', a);
    return `${c} >= ${toDateTime64(r.fromMs)} AND ${c} <= ${toDateTime64(r.toMs)}`;
  },
  dateFilter: (a, r) => {
    const c = oneArg('dateFilter', a);
    return `${c} >= ${toDate(r.fromMs)} AND ${c} <= ${toDate(r.toMs)}`;
  },
  dateTimeFilter: (a, r) => dateTimeFilter(a, r),
  dt: (a, r) => dateTimeFilter(a, r),
  timeInterval: (a, r) => `toStartOfInterval(toDateTime(${oneArg('timeInterval', a)}), INTERVAL ${intervalS(r)} second)`,
  timeInterval_ms: (a, r) =>
    `toStartOfInterval(toDateTime64(${oneArg('timeInterval_ms', a)}, 3), INTERVAL ${Math.max(Math.floor(r.intervalMs), 1)} millisecond)`,
  interval_s: (_a, r) => String(intervalS(r)),
};

function dateTimeFilter(args: string[] | undefined, r: TimeRange): string {
  if (args?.length !== 2) throw new MacroError(`$__dateTimeFilter expects 2 arguments, received ${args?.length ?? 0}`);
  const [d, t] = args as [string, string];
  return `(${d} >= ${toDate(r.fromMs)} AND ${d} <= ${toDate(r.toMs)}) AND (${t} >= ${toDateTime(r.fromMs)} AND ${t} <= ${toDateTime(r.toMs)})`;
}

/**
 * Arguments of a macro when `text` starts with `(`: the text up to the matching `)`, split at
 * commas outside nested parentheses, each trimmed. Undefined when `text` does not start with `(`.
 */
function parseArgs(text: string): { args: string[]; length: number } | undefined {
  if (!text.startsWith('(')) return undefined;
  let depth = 0;
  let start = 1;
  const args: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(') depth++;
    else if (ch === ')') {
      depth--;
      if (depth === 0) {
        args.push(text.slice(start, i).trim());
        return { args, length: i + 1 };
      }
    } else if (ch === ',' && depth === 1) {
      args.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  throw new MacroError(`missing ')' in macro arguments: ${text.slice(0, 80)}`);
}

/** Step 2: the plugin backend's macro expansion. Throws on a `$__` macro the plugin does not know. */
export function applyMacros(sql: string, range: TimeRange): string {
  let out = sql;
  const names = Object.keys(MACROS).sort((a, b) => b.length - a.length);
  for (const name of names) {
    const re = new RegExp(`\\$__${name}\\b`, 'g');
    let m: RegExpExecArray | null = re.exec(out);
    while (m) {
      const after = out.slice(m.index + m[0].length);
      const parsed = parseArgs(after);
      const replacement = (MACROS[name] as Macro)(parsed?.args, range);
      out = out.slice(0, m.index) + replacement + after.slice(parsed?.length ?? 0);
      re.lastIndex = m.index + replacement.length;
      m = re.exec(out);
    }
  }
  const unknown = /\$__\w+/.exec(out);
  if (unknown) throw new MacroError(`${unknown[0]} is not a macro of grafana-clickhouse-datasource`);
  const leftover = /\$\{?\w+/.exec(out);
  if (leftover) throw new MacroError(`${leftover[0]} is not a variable of this dashboard`);
  return out;
}

/** Both steps: the SQL ClickHouse receives for `rawSql` with these variables and this range. */
export function expandPanelSql(rawSql: string, variables: VariableValues, range: TimeRange): string {
  return applyMacros(applyTemplateVariables(rawSql, variables, range), range);
}
