import type { AlertRow } from '@intentwatch/core';

/**
 * The alert as docs/conventions.md §2.1 defines it, and the finding a detector produces for one piece
 * of evidence. Findings are grouped into alerts by their dedup key.
 */

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ALERT_STATUSES = ['open', 'acknowledged', 'resolved', 'false_positive'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** Ordering of severities: a higher rank wins when evidence of several severities meets. */
export function severityRank(s: string): number {
  return SEVERITIES.indexOf(s as Severity);
}

export interface Evidence {
  traceId: string;
  spanId: string;
  /** RFC 3339 time of the offending span or lifecycle event. */
  time: string;
}

export interface AlertNote {
  author: string;
  time: string;
  text: string;
}

/** An alert as the API returns it (docs/conventions.md §2.1). */
export interface Alert {
  id: string;
  detector: string;
  severity: Severity;
  status: AlertStatus;
  title: string;
  reason: string;
  tokenId: string;
  rootTokenId: string;
  agentId: string;
  taskId: string;
  caller: string;
  target: string;
  environment: string;
  firstSeen: string;
  lastSeen: string;
  count: number;
  evidence: Evidence[];
  frameworks: string[];
  assignee: string | null;
  notes: AlertNote[];
}

/** The detection columns of an `alerts` row (plus its triage status), as every read model selects them. */
export type StoredAlertRow = Omit<AlertRow, 'dedup_key' | 'hit_count' | 'created_at' | 'updated_at' | 'version'> & {
  /** The triage status ('' when never triaged). */
  status: string;
  /** UInt64, read as text. */
  hit_count: string;
};

/** An alert's detection fields from its stored row; an alert never triaged is `open`. */
export function detectionFields(r: StoredAlertRow, evidence: Evidence[]): Omit<Alert, 'assignee' | 'notes'> {
  return {
    id: r.id,
    detector: r.detector,
    severity: r.severity as Severity,
    status: (r.status || 'open') as AlertStatus,
    title: r.title,
    reason: r.reason,
    tokenId: r.token_id,
    rootTokenId: r.root_token_id,
    agentId: r.agent_id,
    taskId: r.task_id,
    caller: r.caller,
    target: r.target,
    environment: r.environment,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    count: Number(r.hit_count),
    evidence,
    frameworks: r.frameworks,
  };
}

/**
 * One violation found by a detector: a use (or lifecycle event) that deviates from its token's
 * intent. The alert it belongs to is `detector + rootTokenId + key`, so a repeat of the same
 * deviation in the same session adds evidence to one alert instead of raising another.
 */
export interface Finding {
  /** The part of the dedup key after detector and session root: the target or scope deviated to. */
  key: string;
  severity: Severity;
  /** One sentence an analyst can act on: the token, its intent, the deviation. */
  reason: string;
  tokenId: string;
  /** Root of the token's session; the runner resolves it from `token_events` when absent. */
  rootTokenId?: string;
  /**
   * What the dedup key uses in place of the session root, for alerts about something other
   * than one session (e.g. `agent:<id>` for an agent's usage anomaly). Default: the session root.
   */
  dedupRoot?: string;
  agentId: string;
  taskId: string;
  caller: string;
  target: string;
  environment: string;
  evidence: {
    traceId: string;
    spanId: string;
    /** Event time as the store returns it (RFC 3339, up to nanoseconds). */
    time: string;
    /**
     * Identifies the evidence within its alert; defaults to `traceId/spanId`. Lifecycle events
     * posted as JSON carry no span id and name themselves here instead.
     */
    key?: string;
  };
}

/** What a detector declares about itself that its alerts carry. */
export interface AlertSource {
  id: string;
  title: string;
  frameworks: readonly string[];
}
