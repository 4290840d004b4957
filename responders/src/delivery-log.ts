import {
  type DeliveryDeadLetterRow,
  type DeliveryRow,
  type Store,
  type RevocationRow as StoredRevocation,
  msToDateTime64,
  nextVersion,
  shownAuditName,
} from '@intentwatch/core';
import type { Revocation } from './delivery-queue.js';

/**
 * Where a revoke request stands. Final: delivered, dead (every attempt failed), held (its
 * policy paused, or past its rate limit), dry_run (recorded, not sent), refused (the endpoint is
 * not allowed), disabled (the endpoint answered 410 Gone, or the policy was disabled), discarded
 * (an admin dropped held requests, or the policy was deleted). Open: queued, retrying.
 * awaiting_poll: a Security Event Token of a poll stream, waiting for its receiver to poll and
 * acknowledge it (then delivered).
 */
export const REVOCATION_STATUSES = [
  'queued',
  'retrying',
  'delivered',
  'dead',
  'held',
  'dry_run',
  'refused',
  'disabled',
  'discarded',
  'awaiting_poll',
] as const;
export type RevocationStatus = (typeof REVOCATION_STATUSES)[number];

/** Statuses after which a new request for the same session may be made by hand. */
export const RETRYABLE_BY_HAND: readonly RevocationStatus[] = ['dead', 'refused', 'disabled', 'discarded'];

/** Per-attempt outcomes as `deliveries` records them. */
export type AttemptStatus = 'delivered' | 'failed' | 'dead' | 'gone' | 'refused' | 'dry_run' | 'held';

export interface RevocationState {
  status: RevocationStatus;
  attempts: number;
  lastError: string;
  updatedAt: string;
}

/** A revoke request and its attempts, as the API shows them on an alert (`payload`: the body sent, or that a dry run would send). */
export interface RevocationView extends Revocation, RevocationState {
  attemptLog: AttemptView[];
}

export interface AttemptView {
  attempt: number;
  status: AttemptStatus;
  /** 0 when no response came. */
  httpStatus: number;
  latencyMs: number;
  error: string;
  endpoint: string;
  /** When the next attempt is due, for a failed attempt that will be retried. */
  nextAttemptAt: string | null;
  time: string;
}

export interface AttemptRecord extends Omit<AttemptView, 'time'> {
  webhookId: string;
  alertId: string;
  policyId: string;
  dryRun: boolean;
}

export interface DeadLetter {
  webhookId: string;
  policyId: string;
  alertId: string;
  attempts: number;
  lastHttpStatus: number;
  lastError: string;
  payload: string;
  time: string;
}

/** A request as {@link LATEST} reads it (every column but `version`; `attempts` may come as text). */
type RevocationRow = Omit<StoredRevocation, 'version' | 'attempts'> & { attempts: number | string };

const LATEST = `SELECT webhook_id, policy_id, dedup_key, alert_id, mode, token_id, session_root, tokens, chain, token, relation, dry_run,
  requested_by, payload, status, attempts, last_error, created_at, updated_at FROM revocations`;

/** The responders' tables: revoke requests (`revocations`), attempts (`deliveries`), dead letters. */
export class DeliveryLog {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Writes the state of requests (a new row version each; the latest wins). */
  async save(entries: readonly { revocation: Revocation; state: Omit<RevocationState, 'updatedAt'> }[], now = Date.now()): Promise<void> {
    if (entries.length === 0) return;
    const updatedAt = new Date(now).toISOString();
    await this.#store.insert(
      'revocations',
      entries.map(({ revocation: r, state: s }) => ({
        webhook_id: r.webhookId,
        policy_id: r.policyId,
        dedup_key: r.dedupKey,
        alert_id: r.alertId,
        mode: r.mode,
        token_id: r.tokenId,
        session_root: r.sessionRoot,
        tokens: r.tokens,
        chain: r.chain,
        token: r.token ?? '',
        relation: r.relation ?? '',
        dry_run: r.dryRun ? 1 : 0,
        requested_by: r.requestedBy,
        payload: r.payload,
        status: s.status,
        attempts: s.attempts,
        last_error: s.lastError.slice(0, 1000),
        created_at: r.createdAt,
        updated_at: updatedAt,
        version: nextVersion(),
      })),
    );
  }

  async recordAttempt(a: AttemptRecord, now = Date.now()): Promise<void> {
    await this.#store.insert('deliveries', [
      {
        alert_id: a.alertId,
        webhook_id: a.webhookId,
        policy_id: a.policyId,
        attempt: a.attempt,
        status: a.status,
        http_status: a.httpStatus,
        latency_ms: a.latencyMs,
        error: a.error.slice(0, 1000),
        endpoint: a.endpoint,
        dry_run: a.dryRun ? 1 : 0,
        next_attempt_at: a.nextAttemptAt,
        time: new Date(now).toISOString(),
      },
    ]);
  }

  async deadLetter(r: Revocation, attempts: number, lastHttpStatus: number, lastError: string, now = Date.now()): Promise<void> {
    await this.#store.insert('delivery_dead_letters', [
      {
        webhook_id: r.webhookId,
        policy_id: r.policyId,
        alert_id: r.alertId,
        attempts,
        last_http_status: lastHttpStatus,
        last_error: lastError.slice(0, 1000),
        payload: r.payload,
        time: new Date(now).toISOString(),
      },
    ]);
  }

  /** The requests already made under `policyId` for each of `dedupKeys`, oldest first. */
  async existing(policyId: string, dedupKeys: readonly string[]): Promise<Map<string, (Revocation & RevocationState)[]>> {
    const out = new Map<string, (Revocation & RevocationState)[]>();
    if (dedupKeys.length === 0) return out;
    const rows = await this.#store.query<RevocationRow>(
      `${LATEST} WHERE policy_id = {policy:String} AND dedup_key IN {keys:Array(String)}
       ORDER BY webhook_id, version DESC LIMIT 1 BY webhook_id`,
      { policy: policyId, keys: [...new Set(dedupKeys)] },
    );
    for (const r of rows.map(fromRow).sort((a, b) => a.createdAt.localeCompare(b.createdAt))) {
      const list = out.get(r.dedupKey) ?? [];
      list.push(r);
      out.set(r.dedupKey, list);
    }
    return out;
  }

  /**
   * The requests already made under `policyId` for each of `tokens`, by token, oldest first: its
   * own (dedup key `token:<id>`), and any made for a whole lineage at once (`lineageKeys`:
   * `session:<root>`, `chain:<origin>`, as earlier versions made them) that listed it.
   */
  async byToken(
    policyId: string,
    tokens: readonly string[],
    lineageKeys: readonly string[] = [],
  ): Promise<Map<string, (Revocation & RevocationState)[]>> {
    const out = new Map<string, (Revocation & RevocationState)[]>();
    const wanted = new Set(tokens);
    const rows = await this.existing(policyId, [...tokens.map((t) => `token:${t}`), ...lineageKeys]);
    for (const [key, list] of rows) {
      for (const r of list) {
        for (const token of key.startsWith('token:') ? [key.slice('token:'.length)] : r.tokens) {
          if (!wanted.has(token)) continue;
          const mine = out.get(token) ?? [];
          mine.push(r);
          out.set(token, mine);
        }
      }
    }
    return out;
  }

  /** One request by its webhook id. */
  async get(webhookId: string): Promise<(Revocation & RevocationState) | undefined> {
    const rows = await this.#store.query<RevocationRow>(`${LATEST} WHERE webhook_id = {id:String} ORDER BY version DESC LIMIT 1`, {
      id: webhookId,
    });
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /** Requests of a policy by webhook id (those of other policies are left out). */
  async getMany(policyId: string, webhookIds: readonly string[]): Promise<(Revocation & RevocationState)[]> {
    if (webhookIds.length === 0) return [];
    const rows = await this.#store.query<RevocationRow>(
      `${LATEST} WHERE policy_id = {policy:String} AND webhook_id IN {ids:Array(String)} ORDER BY webhook_id, version DESC LIMIT 1 BY webhook_id`,
      { policy: policyId, ids: [...new Set(webhookIds)] },
    );
    return rows.map(fromRow);
  }

  /** Requests still open (queued or retrying) whose last change is older than `olderThan` (ISO). */
  async open(olderThan: string, limit = 1000): Promise<(Revocation & RevocationState)[]> {
    const rows = await this.#store.query<RevocationRow>(
      `SELECT * FROM (${LATEST} ORDER BY webhook_id, version DESC LIMIT 1 BY webhook_id)
       WHERE status IN ('queued', 'retrying') AND updated_at < {olderThan:DateTime64(3)}
       ORDER BY created_at LIMIT {limit:UInt32}`,
      { olderThan: msToDateTime64(Date.parse(olderThan)), limit },
    );
    return rows.map(fromRow);
  }

  /**
   * When each of `webhookIds` is due for its next attempt, as its latest attempt recorded it (epoch
   * ms); absent for a request with no attempt, or whose latest attempt set no next time.
   */
  async nextAttempts(webhookIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (webhookIds.length === 0) return out;
    // In a tuple so that a latest attempt without a next time (NULL) is not skipped for an older one.
    const rows = await this.#store.query<{ webhook_id: string; next: string | null }>(
      `SELECT webhook_id, argMax(tuple(next_attempt_at), (attempt, time)).1 AS next
       FROM deliveries WHERE webhook_id IN {ids:Array(String)} GROUP BY webhook_id`,
      { ids: [...new Set(webhookIds)] },
    );
    for (const r of rows) {
      const at = r.next === null ? Number.NaN : Date.parse(r.next);
      if (Number.isFinite(at)) out.set(r.webhook_id, at);
    }
    return out;
  }

  /** Requests of a policy in `status`, oldest first. */
  async withStatus(policyId: string, status: RevocationStatus, limit = 100_000): Promise<(Revocation & RevocationState)[]> {
    const rows = await this.#store.query<RevocationRow>(
      `SELECT * FROM (${LATEST} WHERE policy_id = {policy:String} ORDER BY webhook_id, version DESC LIMIT 1 BY webhook_id)
       WHERE status = {status:String} ORDER BY created_at LIMIT {limit:UInt32}`,
      { policy: policyId, status, limit },
    );
    return rows.map(fromRow);
  }

  /** Counts of requests by policy and status. */
  async counts(): Promise<{ policyId: string; status: RevocationStatus; count: number }[]> {
    const rows = await this.#store.query<{ policy_id: string; status: string; n: string }>(
      `SELECT policy_id, status, count() AS n FROM (
         SELECT policy_id, webhook_id, argMax(status, version) AS status FROM revocations GROUP BY policy_id, webhook_id
       ) GROUP BY policy_id, status`,
    );
    return rows.map((r) => ({ policyId: r.policy_id, status: r.status as RevocationStatus, count: Number(r.n) }));
  }

  /** The revoke requests of an alert with every attempt, newest request first. */
  async forAlert(alertId: string): Promise<RevocationView[]> {
    const [revs, attempts] = await Promise.all([
      this.#store.query<RevocationRow>(`${LATEST} WHERE alert_id = {id:String} ORDER BY webhook_id, version DESC LIMIT 1 BY webhook_id`, {
        id: alertId,
      }),
      this.#store.query<
        Pick<
          DeliveryRow,
          'webhook_id' | 'attempt' | 'status' | 'http_status' | 'latency_ms' | 'error' | 'endpoint' | 'next_attempt_at' | 'time'
        >
      >(
        `SELECT webhook_id, attempt, status, http_status, latency_ms, error, endpoint, next_attempt_at, time
         FROM deliveries WHERE alert_id = {id:String} ORDER BY time, attempt`,
        { id: alertId },
      ),
    ]);
    const byId = new Map<string, AttemptView[]>();
    for (const a of attempts) {
      const list = byId.get(a.webhook_id) ?? [];
      list.push({
        attempt: Number(a.attempt),
        status: a.status as AttemptStatus,
        httpStatus: Number(a.http_status),
        latencyMs: Number(a.latency_ms),
        error: a.error,
        endpoint: a.endpoint,
        nextAttemptAt: a.next_attempt_at,
        time: a.time,
      });
      byId.set(a.webhook_id, list);
    }
    return revs
      .map(fromRow)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .map((r) => ({ ...r, attemptLog: byId.get(r.webhookId) ?? [] }));
  }

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const rows = await this.#store.query<DeliveryDeadLetterRow>(
      `SELECT webhook_id, policy_id, alert_id, attempts, last_http_status, last_error, payload, time
       FROM delivery_dead_letters ORDER BY time DESC LIMIT 1 BY policy_id, webhook_id LIMIT {limit:UInt32}`,
      { limit },
    );
    return rows.map((r) => ({
      webhookId: r.webhook_id,
      policyId: r.policy_id,
      alertId: r.alert_id,
      attempts: Number(r.attempts),
      lastHttpStatus: Number(r.last_http_status),
      lastError: r.last_error,
      payload: r.payload,
      time: r.time,
    }));
  }
}

function fromRow(r: RevocationRow): Revocation & RevocationState {
  return {
    webhookId: r.webhook_id,
    policyId: r.policy_id,
    dedupKey: r.dedup_key,
    alertId: r.alert_id,
    mode: r.mode,
    tokenId: r.token_id,
    sessionRoot: r.session_root,
    tokens: r.tokens,
    chain: r.chain,
    token: r.token,
    relation: r.relation,
    dryRun: Number(r.dry_run) === 1,
    requestedBy: shownAuditName(r.requested_by),
    payload: r.payload,
    createdAt: r.created_at,
    status: r.status as RevocationStatus,
    attempts: Number(r.attempts),
    lastError: shownAuditName(r.last_error),
    updatedAt: r.updated_at,
  };
}
