import { InvalidInputError, STORE_TIME_RANGE, type Store, rfc3339ToDateTime64, rfc3339ToNanos, shownAuditName } from '@intentwatch/core';
import {
  ALERT_STATUSES,
  type Alert,
  type AlertNote,
  type AlertSource,
  type AlertStatus,
  type Evidence,
  type Finding,
  SEVERITIES,
  type Severity,
  severityRank,
  detectionFields,
} from './model.js';
import { ALERT_COLUMNS, type AlertRow } from './alert-row.js';
import { AlertRecorder, type RecordResult } from './recorder.js';
import { type SuppressionMatcher, suppressionIndexSql } from './suppression-store.js';
import { AlertTriage, type TriageChange } from './triage.js';

/** The orders an alert listing can take; ties break on the later keys, then the id. */
export const ALERT_SORTS = ['lastSeen', 'firstSeen', 'severity', 'count'] as const;
export type AlertSort = (typeof ALERT_SORTS)[number];

export interface AlertFilter {
  /** A detector id, or several (alerts of any of them). */
  detector?: string | readonly string[];
  severity?: string | readonly string[];
  status?: string | readonly string[];
  tokenId?: string;
  agentId?: string;
  /** Only alerts about this target service. */
  target?: string;
  environment?: string;
  /** Only alerts assigned to this person. */
  assignee?: string;
  /**
   * Text to look for, case-insensitively, in the id, detector, title, reason, token and session
   * root, agent, task, target, caller, environment and assignee.
   */
  q?: string;
  /** Sort key (default `lastSeen`): `severity` and `count` break ties on last seen. */
  sort?: AlertSort;
  /** Default `desc`. */
  order?: 'asc' | 'desc';
  /** The suppressions in force: an open alert one of them mutes counts as suppressed. */
  suppressions?: readonly SuppressionMatcher[];
  /** Suppressed alerts are left out (`exclude`, the default), listed too (`include`) or alone (`only`). */
  suppressed?: 'exclude' | 'include' | 'only';
  /** Only alerts seen at or after this time (RFC 3339). */
  since?: string;
  /** Page size, 1–500 (default 50). */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface AlertPage {
  alerts: Alert[];
  nextCursor: string | null;
}

/** Alerts of one detector, severity and status, and whether an active suppression mutes them. */
export interface AlertCount {
  detector: string;
  severity: Severity;
  status: AlertStatus;
  suppressed: boolean;
  count: number;
  /** Set when counted `byAgent`. */
  agentId?: string;
}

export interface AlertEvent {
  time: string;
  actor: string;
  action: string;
  fromStatus: string;
  toStatus: string;
  detail: string;
}

export interface AlertStoreOptions {
  /** Evidence items returned per alert, most recent first (default 20). */
  evidenceLimit?: number;
}

interface ListedRow extends AlertRow {
  status: string;
  assignee: string;
}

/**
 * The alerts: the queries the API and the responders read them with (`list`, `counts`, `get`,
 * `history`), and the two writers, each with its own tables. Detection (`alerts`,
 * `alert_hits`) is written by {@link AlertRecorder} (`record`) — except that new evidence on a
 * `resolved` alert reopens it, with an audit event saying so — and triage (`alert_triage`,
 * `alert_events`) by {@link AlertTriage} (`updateTriage`).
 *
 * `record` must not run concurrently for the same detector (the runner holds a per-detector
 * lock); under that rule counts are exact without re-aggregating an alert's evidence.
 */
export class AlertStore {
  readonly #store: Store;
  readonly #evidenceLimit: number;
  readonly #recorder: AlertRecorder;
  readonly #triage: AlertTriage;

  constructor(store: Store, options: AlertStoreOptions = {}) {
    this.#store = store;
    this.#evidenceLimit = options.evidenceLimit ?? 20;
    this.#recorder = new AlertRecorder(store);
    this.#triage = new AlertTriage(store, (id) => this.get(id));
  }

  /**
   * Alerts matching `filter`, most recently seen first unless `filter.sort` says otherwise, with
   * a cursor for the next page. Throws an InvalidInputError for a malformed filter value.
   */
  async list(filter: AlertFilter = {}): Promise<AlertPage> {
    const limit = filter.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw new InvalidInputError('invalid_parameter', `limit must be a whole number from 1 to 500 (got ${filter.limit})`);
    }
    const sort = filter.sort ?? 'lastSeen';
    if (!(ALERT_SORTS as readonly string[]).includes(sort)) {
      throw new InvalidInputError('invalid_parameter', `sort must be one of ${ALERT_SORTS.join(', ')} (got "${sort}")`);
    }
    const order = filter.order ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw new InvalidInputError('invalid_parameter', `order must be asc or desc (got "${order}")`);
    const params: Record<string, unknown> = { limit: limit + 1 };
    const where = conditions(filter, params);
    const keys = SORT_KEYS[sort];
    const dir = order === 'desc' ? 'DESC' : 'ASC';
    if (filter.cursor) {
      const c = decodeCursor(filter.cursor, sort, order);
      const placeholders = keys.map((k, i) => {
        params[`cursor${i}`] = c.values[i];
        return `{cursor${i}:${k.type}}`;
      });
      params.cursorId = c.id;
      where.push(
        `(${[...keys.map((k) => k.sql), 'a.id'].join(', ')}) ${order === 'desc' ? '<' : '>'} (${[...placeholders, '{cursorId:String}'].join(', ')})`,
      );
    }
    const rows = await this.#store.query<ListedRow>(
      `${ALERTS_WITH_TRIAGE}
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY ${[...keys.map((k) => `${k.sql} ${dir}`), `a.id ${dir}`].join(', ')}
       LIMIT {limit:UInt32}`,
      params,
    );
    const page = rows.slice(0, limit);
    const alerts = await this.#hydrate(page);
    const last = page[page.length - 1];
    return {
      alerts,
      nextCursor:
        rows.length > limit && last
          ? encodeCursor(
              sort,
              order,
              keys.map((k) => k.value(last)),
              last.id,
            )
          : null,
    };
  }

  /**
   * How many alerts match `filter` (its paging, sorting and `suppressed` aside), by detector,
   * severity and status, with suppressed open alerts counted apart: suppressed detections stay
   * stored and counted, only out of the open queue.
   */
  async counts(
    filter: Omit<AlertFilter, 'limit' | 'cursor' | 'sort' | 'order' | 'suppressed'> = {},
    options: { byAgent?: boolean } = {},
  ): Promise<AlertCount[]> {
    const params: Record<string, unknown> = {};
    const where = conditions({ ...filter, suppressed: 'include' }, params);
    const suppressed = filter.suppressions?.length ? `(status = 'open' AND ${suppressionIndexSql(filter.suppressions, params)} > 0)` : '0';
    const agent = options.byAgent ? 'a.agent_id' : "''";
    const rows = await this.#store.query<{
      detector: string;
      severity: string;
      status: string;
      suppressed: number;
      n: string;
      agent: string;
    }>(
      `SELECT a.detector AS detector, a.severity AS severity, status, toUInt8(${suppressed}) AS suppressed, ${agent} AS agent, count() AS n
       FROM (${ALERTS_WITH_TRIAGE}) AS a
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       GROUP BY detector, severity, status, suppressed, agent
       ORDER BY detector, severity, status, suppressed, agent`,
      params,
    );
    return rows.map((r) => ({
      detector: r.detector,
      severity: r.severity as Severity,
      status: r.status as AlertStatus,
      suppressed: Number(r.suppressed) === 1,
      count: Number(r.n),
      ...(options.byAgent ? { agentId: r.agent } : {}),
    }));
  }

  /** One alert with its evidence and notes, or undefined. */
  async get(id: string): Promise<Alert | undefined> {
    const rows = await this.#store.query<ListedRow>(
      `SELECT a.*, if(t.status = '', 'open', t.status) AS status, t.assignee AS assignee
       FROM (SELECT ${ALERT_COLUMNS} FROM alerts WHERE id = {id:String} ORDER BY version DESC LIMIT 1) AS a
       LEFT JOIN (
         SELECT alert_id, argMax(status, version) AS status, argMax(assignee, version) AS assignee
         FROM alert_triage WHERE alert_id = {id:String} GROUP BY alert_id
       ) AS t ON t.alert_id = a.id`,
      { id },
    );
    if (rows.length === 0) return undefined;
    const [alert] = await this.#hydrate(rows);
    return alert;
  }

  /** The audit trail of an alert, oldest first. */
  async history(id: string): Promise<AlertEvent[]> {
    const rows = await this.#store.query<{
      time: string;
      actor: string;
      action: string;
      from_status: string;
      to_status: string;
      detail: string;
    }>(
      `SELECT time, actor, action, from_status, to_status, detail FROM alert_events
       WHERE alert_id = {id:String} ORDER BY time, event_id LIMIT 1 BY event_id`,
      { id },
    );
    return rows.map((r) => ({
      time: r.time,
      actor: shownAuditName(r.actor),
      action: r.action,
      fromStatus: r.from_status,
      toStatus: r.to_status,
      detail: r.detail,
    }));
  }

  /** Applies an analyst's triage change (see {@link AlertTriage.update}). */
  updateTriage(id: string, change: TriageChange, actor: string): Promise<Alert> {
    return this.#triage.update(id, change, actor);
  }

  /** Records a detector's findings (see {@link AlertRecorder.record}). */
  record(source: AlertSource, findings: readonly Finding[], now = Date.now()): Promise<RecordResult> {
    return this.#recorder.record(source, findings, now);
  }

  async #hydrate(rows: ListedRow[]): Promise<Alert[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [hits, notes] = await Promise.all([
      this.#store.query<{ alert_id: string; evidence_key: string; trace_id: string; span_id: string; time: string }>(
        `SELECT alert_id, evidence_key, any(trace_id) AS trace_id, any(span_id) AS span_id, max(time) AS time
         FROM alert_hits WHERE alert_id IN {ids:Array(String)}
         GROUP BY alert_id, evidence_key
         ORDER BY alert_id, time DESC, evidence_key
         LIMIT {n:UInt32} BY alert_id`,
        { ids, n: this.#evidenceLimit },
      ),
      this.#store.query<{ alert_id: string; actor: string; time: string; detail: string }>(
        `SELECT alert_id, actor, time, detail FROM alert_events
         WHERE alert_id IN {ids:Array(String)} AND action = 'note'
         ORDER BY alert_id, time, event_id LIMIT 1 BY alert_id, event_id`,
        { ids },
      ),
    ]);
    const evidence = new Map<string, Evidence[]>();
    for (const h of hits) {
      const list = evidence.get(h.alert_id) ?? [];
      list.push({ traceId: h.trace_id, spanId: h.span_id, time: h.time });
      evidence.set(h.alert_id, list);
    }
    const notesBy = new Map<string, AlertNote[]>();
    for (const n of notes) {
      const list = notesBy.get(n.alert_id) ?? [];
      list.push({ author: shownAuditName(n.actor), time: n.time, text: n.detail });
      notesBy.set(n.alert_id, list);
    }
    return rows.map((r) => ({
      ...detectionFields(r, evidence.get(r.id) ?? []),
      assignee: r.assignee ? r.assignee : null,
      notes: notesBy.get(r.id) ?? [],
    }));
  }
}

/** The latest version of each alert (alias `a`) with its triage state (`status`, `assignee`). */
const ALERTS_WITH_TRIAGE = `SELECT a.*, if(t.status = '', 'open', t.status) AS status, t.assignee AS assignee
       FROM (SELECT ${ALERT_COLUMNS} FROM alerts ORDER BY id, version DESC LIMIT 1 BY id) AS a
       LEFT JOIN (
         SELECT alert_id, argMax(status, version) AS status, argMax(assignee, version) AS assignee
         FROM alert_triage GROUP BY alert_id
       ) AS t ON t.alert_id = a.id`;

const oneOf = (name: string, value: string | readonly string[] | undefined, allowed?: readonly string[]): string[] => {
  const values = (typeof value === 'string' ? [value] : [...(value ?? [])]).filter((v) => v !== '');
  for (const v of values) {
    if (allowed && !allowed.includes(v)) {
      throw new InvalidInputError('invalid_parameter', `${name} must be one of ${allowed.join(', ')} (got "${v}")`);
    }
  }
  return values;
};

/** The WHERE conditions of `filter` over ALERTS_WITH_TRIAGE; values go into `params`. */
function conditions(filter: AlertFilter, params: Record<string, unknown>): string[] {
  const where: string[] = [];
  const lists: [keyof AlertFilter, string, readonly string[] | undefined][] = [
    ['detector', 'a.detector', undefined],
    ['severity', 'a.severity', SEVERITIES],
    ['status', 'status', ALERT_STATUSES],
  ];
  for (const [name, column, allowed] of lists) {
    const values = oneOf(name, filter[name] as string | readonly string[] | undefined, allowed);
    if (values.length === 0) continue;
    where.push(`${column} IN {${name}:Array(String)}`);
    params[name] = values;
  }
  if (filter.tokenId) {
    // A token's alerts include those of the session it roots.
    where.push('(a.token_id = {tokenId:String} OR a.root_token_id = {tokenId:String})');
    params.tokenId = filter.tokenId;
  }
  const exact: [keyof AlertFilter, string][] = [
    ['agentId', 'a.agent_id'],
    ['target', 'a.target'],
    ['environment', 'a.environment'],
    ['assignee', 'assignee'],
  ];
  for (const [name, column] of exact) {
    const v = filter[name];
    if (typeof v !== 'string' || v === '') continue;
    where.push(`${column} = {${name}:String}`);
    params[name] = v;
  }
  if (filter.q?.trim()) {
    where.push(
      `positionCaseInsensitiveUTF8(concat(a.id, ' ', a.detector, ' ', a.title, ' ', a.reason, ' ', a.token_id, ' ', a.root_token_id, ' ',
        a.agent_id, ' ', a.task_id, ' ', a.target, ' ', a.caller, ' ', a.environment, ' ', assignee), {q:String}) > 0`,
    );
    params.q = filter.q.trim();
  }
  if (filter.since) {
    const since = rfc3339ToDateTime64(filter.since);
    if (!since) {
      throw new InvalidInputError(
        'invalid_parameter',
        `since must be an RFC 3339 time such as 2026-11-25T10:00:00Z, ${STORE_TIME_RANGE} (got "${filter.since.slice(0, 60)}")`,
      );
    }
    where.push('a.last_seen >= {since:DateTime64(9)}');
    params.since = since;
  }
  const mode = filter.suppressed ?? 'exclude';
  if (mode !== 'exclude' && mode !== 'include' && mode !== 'only') {
    throw new InvalidInputError('invalid_parameter', `suppressed must be exclude, include or only (got "${mode}")`);
  }
  if (mode !== 'include') {
    const muted = filter.suppressions?.length ? `(status = 'open' AND ${suppressionIndexSql(filter.suppressions, params)} > 0)` : '0';
    where.push(mode === 'only' ? muted : `NOT ${muted}`);
  }
  return where;
}

interface SortKey {
  sql: string;
  /** Query parameter type of the key's cursor value. */
  type: string;
  /** The key's value in a row, as the cursor keeps it. */
  value: (row: ListedRow) => string;
}

const lastSeenKey: SortKey = { sql: 'a.last_seen', type: 'DateTime64(9)', value: (r) => r.last_seen };
const SORT_KEYS: Record<AlertSort, SortKey[]> = {
  lastSeen: [lastSeenKey],
  firstSeen: [{ sql: 'a.first_seen', type: 'DateTime64(9)', value: (r) => r.first_seen }],
  severity: [
    {
      sql: `indexOf([${SEVERITIES.map((x) => `'${x}'`).join(', ')}], a.severity)`,
      type: 'UInt64',
      value: (r) => String(severityRank(r.severity) + 1),
    },
    lastSeenKey,
  ],
  count: [{ sql: 'a.hit_count', type: 'UInt64', value: (r) => r.hit_count }, lastSeenKey],
};

/** A cursor: the sort it belongs to and the keys of the last alert of its page. */
function encodeCursor(sort: AlertSort, order: 'asc' | 'desc', values: string[], id: string): string {
  return Buffer.from(JSON.stringify({ s: sort, o: order, k: values, id }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, sort: AlertSort, order: 'asc' | 'desc'): { values: string[]; id: string } {
  const invalid = () => new InvalidInputError('invalid_parameter', 'cursor is not a cursor this API returned; pass nextCursor unchanged');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  // Cursors of the first release: [lastSeen, id], newest first.
  if (Array.isArray(parsed)) parsed = { s: 'lastSeen', o: 'desc', k: [parsed[0]], id: parsed[1] };
  const c = parsed as { s?: unknown; o?: unknown; k?: unknown; id?: unknown };
  if (typeof c !== 'object' || c === null || !Array.isArray(c.k) || typeof c.id !== 'string') throw invalid();
  if (c.s !== sort || c.o !== order) {
    throw new InvalidInputError(
      'invalid_parameter',
      `cursor belongs to a listing sorted by ${String(c.s)} ${String(c.o)}; keep sort and order unchanged while paging`,
    );
  }
  const keys = SORT_KEYS[sort];
  if (c.k.length !== keys.length) throw invalid();
  const values = keys.map((k, i) => {
    const v = (c.k as unknown[])[i];
    if (typeof v !== 'string') throw invalid();
    if (k.type.startsWith('DateTime64')) {
      const t = rfc3339ToDateTime64(v);
      if (t) return t;
      // A cursor is opaque but not signed: one edited to hold a time the store cannot compare with.
      if (rfc3339ToNanos(v) !== undefined) {
        throw new InvalidInputError(
          'invalid_parameter',
          `cursor holds a time outside what the store holds (${STORE_TIME_RANGE}); pass nextCursor unchanged`,
        );
      }
      throw invalid();
    }
    if (!/^\d{1,19}$/.test(v)) throw invalid();
    return v;
  });
  return { values, id: c.id };
}
