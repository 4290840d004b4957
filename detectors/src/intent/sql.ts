/**
 * SQL shared by the detectors: the run's window of token uses, and each use's task. Grants,
 * sessions, delegation and revocation are lineage: they come from `@intentwatch/core`
 * (`core/src/lineage/`). Every value reaches SQL as a query parameter; the fragments only differ
 * in shape (with or without re-examined tokens).
 *
 * Parameters every fragment may use (the runner sets them, see RunWindow):
 * `since`, `until`, `recheckSince` (DateTime64(3)), `recheckTokens`, `recheckTasks`, `onlyTokens`, `onlyAgents` (Array(String)),
 * `skewMs` (Int64).
 */

export const END_EVENTS = "('completed', 'failed', 'cancelled')";

const USE_COLUMNS =
  'time, ingested_at, trace_id, span_id, token_id, task_id, agent_id, workload_id, caller, target, action, environment, scopes, resource, resource_raw, tool, mcp_method';

/**
 * The token uses a run examines: those ingested in (since, until], plus — when lifecycle events
 * arrived in the window — earlier uses (back to `recheckSince`) of the tokens and tasks those
 * events concern, so that a late grant, revocation or task end gives the result in-order
 * arrival would have. Both branches start from `ingested_at`, the leading key of `spans`, so a
 * run reads recent parts only, whatever the history. A live run (`only` set: the tokens a
 * committed batch made suspect) reads the window's uses of those tokens alone.
 */
export function usesSql(window: { recheck: boolean; only?: unknown }): string {
  const scoped = window.only ? ' AND token_id IN {onlyTokens:Array(String)}' : '';
  const fresh = `SELECT ${USE_COLUMNS} FROM spans
    WHERE token_id != '' AND ingested_at > {since:DateTime64(3)} AND ingested_at <= {until:DateTime64(3)}${scoped}`;
  if (!window.recheck) return fresh;
  return `${fresh}
    UNION ALL
    SELECT ${USE_COLUMNS} FROM spans
    WHERE token_id != '' AND ingested_at > {recheckSince:DateTime64(3)} AND ingested_at <= {since:DateTime64(3)}
      AND (token_id IN {recheckTokens:Array(String)} OR task_id IN {recheckTasks:Array(String)})`;
}

/**
 * Each task named by `tasksFrom`: its plan (from `started`: intent, tools, deadline) and its
 * end (the first completed/failed/cancelled), with flags because a LEFT JOIN fills defaults.
 */
export function tasksSql(tasksFrom: string): string {
  return `SELECT task_id,
      countIf(event = 'started') > 0 AS task_started,
      argMinIf(intent, time, event = 'started') AS intent,
      argMinIf(tools, time, event = 'started') AS tools,
      argMinIf(deadline, time, event = 'started') AS deadline,
      countIf(event IN ${END_EVENTS}) > 0 AS task_ended,
      minIf(time, event IN ${END_EVENTS}) AS ended_at,
      argMinIf(event, time, event IN ${END_EVENTS}) AS end_event
    FROM task_events
    WHERE task_id != '' AND task_id IN (${tasksFrom})
    GROUP BY task_id`;
}

/**
 * A ClickHouse expression: the RE2 regular expression for the resource glob `pattern` (an SQL
 * expression), by the rules of docs/conventions.md §1.2 and exactly as `globToClickHouseRegex` in core
 * builds it (a test holds the two to the same answers): `*` within one path segment, `**`
 * across segments, `/**` at the end and `**​/` also matching no segment; everything else
 * literal. Patterns are data (one per grant), so they are turned into expressions in SQL.
 */
export function globRegexSql(pattern: string): string {
  // Placeholders \x01–\x03 stand for the `**` forms while single `*` is rewritten.
  let e = `replaceRegexpAll(${pattern}, '([.+?^$\\\\{\\\\}()|\\\\[\\\\]\\\\\\\\])', '\\\\\\\\\\\\1')`;
  e = `replaceRegexpAll(${e}, '/\\\\*\\\\*$', '\\x01')`;
  e = `replaceRegexpAll(${e}, '\\\\*\\\\*/', '\\x02')`;
  e = `replaceRegexpAll(${e}, '\\\\*\\\\*', '\\x03')`;
  e = `replaceRegexpAll(${e}, '\\\\*', '[^/]*')`;
  e = `replaceRegexpAll(${e}, '\\x01', '(?:/.*)?')`;
  e = `replaceRegexpAll(${e}, '\\x02', '(?:.*/)?')`;
  e = `replaceRegexpAll(${e}, '\\x03', '.*')`;
  return `concat('^', ${e}, '$')`;
}

/** A ClickHouse boolean: `resource` matches one of the glob `patterns` (an Array(String) expression). */
export function matchesAnyGlobSql(resource: string, patterns: string): string {
  return `arrayExists(p -> match(${resource}, ${globRegexSql('p')}), ${patterns})`;
}
