import { type Store, msToDateTime64 } from '@intentwatch/core';
import { type Evidence, type StoredAlertRow, detectionFields } from '@intentwatch/alerts';
import type { WebhookAlert } from './payload.js';

/** An alert with the times the exports need. */
export interface AlertSnapshot {
  alert: WebhookAlert;
  /** When the alert was first recorded (RFC 3339). */
  createdAt: string;
  /** When detection last changed it (RFC 3339). */
  updatedAt: string;
  /** When triage last changed it, or null. */
  triagedAt: string | null;
  /** The `alerts.version` read. */
  version: string;
}

interface Row extends StoredAlertRow {
  created_at: string;
  updated_at: string;
  version: string;
  triaged_at: string | null;
}

/** Evidence items a webhook or OCSF finding carries, most recent first. */
const EVIDENCE_LIMIT = 10;

/**
 * Reads alerts in batches for the responders and the OCSF export — the same tables and the
 * same "latest version, then triage" rule as the AlertStore, without per-alert queries, so that
 * a burst of a thousand alerts or an export of many costs a few queries.
 */
export class AlertReader {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * Alert ids whose detection changed after `version` (exclusive) — and at or before `until` when
   * given — oldest change first, with their latest version in that range.
   */
  async changedSince(version: bigint, limit: number, until?: bigint): Promise<{ id: string; version: bigint }[]> {
    const rows = await this.#store.query<{ id: string; v: string }>(
      `SELECT id, max(version) AS v FROM alerts WHERE version > {since:UInt64}
       ${until === undefined ? '' : 'AND version <= {until:UInt64}'}
       GROUP BY id ORDER BY v LIMIT {limit:UInt32}`,
      { since: version.toString(), limit, ...(until === undefined ? {} : { until: until.toString() }) },
    );
    return rows.map((r) => ({ id: r.id, version: BigInt(r.v) }));
  }

  /** The highest `alerts.version`, or 0 for no alerts. */
  async maxVersion(): Promise<bigint> {
    const rows = await this.#store.query<{ v: string }>('SELECT max(version) AS v FROM alerts');
    return BigInt(rows[0]?.v ?? '0');
  }

  /**
   * A page of alert ids changed — by detection or triage — at or after `sinceMs`, ordered by
   * change time then id, after the cursor `(afterMs, afterId)` when given.
   */
  async changedPage(
    sinceMs: number,
    after: { ms: number; id: string } | undefined,
    limit: number,
  ): Promise<{ id: string; changedMs: number }[]> {
    const rows = await this.#store.query<{ id: string; changed: string }>(
      `SELECT id, max(t) AS changed FROM (
         SELECT id, updated_at AS t FROM alerts WHERE updated_at >= {since:DateTime64(3)}
         UNION ALL
         SELECT alert_id AS id, updated_at AS t FROM alert_triage WHERE updated_at >= {since:DateTime64(3)}
       ) GROUP BY id
       ${after ? 'HAVING (changed, id) > ({afterTime:DateTime64(3)}, {afterId:String})' : ''}
       ORDER BY changed, id LIMIT {limit:UInt32}`,
      {
        since: msToDateTime64(sinceMs),
        limit,
        ...(after ? { afterTime: msToDateTime64(after.ms), afterId: after.id } : {}),
      },
    );
    return rows.map((r) => ({ id: r.id, changedMs: Date.parse(r.changed) }));
  }

  /** The current state of each alert of `ids` that exists. */
  async load(ids: readonly string[]): Promise<Map<string, AlertSnapshot>> {
    const out = new Map<string, AlertSnapshot>();
    if (ids.length === 0) return out;
    const unique = [...new Set(ids)];
    const [rows, hits] = await Promise.all([
      this.#store.query<Row>(
        `SELECT a.*, if(t.status = '', 'open', t.status) AS status, t.triaged_at AS triaged_at
         FROM (
           SELECT id, detector, severity, title, reason, token_id, root_token_id, agent_id, task_id, caller, target,
                  environment, frameworks, first_seen, last_seen, hit_count, created_at, updated_at, version
           FROM alerts WHERE id IN {ids:Array(String)} ORDER BY id, version DESC LIMIT 1 BY id
         ) AS a
         LEFT JOIN (
           SELECT alert_id, argMax(status, version) AS status, max(updated_at) AS triaged_at
           FROM alert_triage WHERE alert_id IN {ids:Array(String)} GROUP BY alert_id
         ) AS t ON t.alert_id = a.id`,
        { ids: unique },
      ),
      this.#store.query<{ alert_id: string; trace_id: string; span_id: string; time: string }>(
        `SELECT alert_id, any(trace_id) AS trace_id, any(span_id) AS span_id, max(time) AS time
         FROM alert_hits WHERE alert_id IN {ids:Array(String)}
         GROUP BY alert_id, evidence_key
         ORDER BY alert_id, time DESC, evidence_key
         LIMIT {n:UInt32} BY alert_id`,
        { ids: unique, n: EVIDENCE_LIMIT },
      ),
    ]);
    const evidence = new Map<string, Evidence[]>();
    for (const h of hits) {
      const list = evidence.get(h.alert_id) ?? [];
      list.push({ traceId: h.trace_id, spanId: h.span_id, time: h.time });
      evidence.set(h.alert_id, list);
    }
    for (const r of rows) {
      out.set(r.id, {
        alert: detectionFields(r, evidence.get(r.id) ?? []),
        createdAt: r.created_at,
        updatedAt: r.updated_at,
        // An alert never triaged joins the default time (the epoch).
        triagedAt: r.triaged_at && Date.parse(r.triaged_at) > 0 ? r.triaged_at : null,
        version: r.version,
      });
    }
    return out;
  }
}
