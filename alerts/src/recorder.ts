import { createHash } from 'node:crypto';
import {
  type AlertEventRow,
  type AlertHitRow,
  type AlertRow as AlertStoreRow,
  type AlertTriageRow,
  type Store,
  counter,
  nextVersion,
  toMs,
} from '@intentwatch/core';
import { ALERT_COLUMNS, type AlertRow } from './alert-row.js';
import { type AlertSource, type Finding, severityRank } from './model.js';

export interface RecordResult {
  /** Alerts that did not exist before. */
  raised: number;
  /** Existing alerts that gained evidence. */
  updated: number;
  /** Resolved alerts reopened by new evidence. */
  reopened: number;
  /** Evidence rows added (a replay adds none). */
  newHits: number;
}

const raisedTotal = counter('intentwatch_alerts_raised_total', 'Alerts raised (new dedup keys), by detector and severity', [
  'detector',
  'severity',
]);
const reopenedTotal = counter('intentwatch_alerts_reopened_total', 'Resolved alerts reopened by new evidence, by detector', ['detector']);

/** Stable id of an alert: a hash of its dedup key (detector + session root + target/scope). */
export function alertId(detector: string, rootTokenId: string, key: string): string {
  return createHash('sha256').update(`${detector}\u0000${rootTokenId}\u0000${key}`, 'utf8').digest('hex').slice(0, 32);
}

/**
 * Writes detection: new dedup keys become alerts, known ones gain evidence. It only ever writes
 * detection rows (`alerts`, `alert_hits`) — except that new evidence on a `resolved` alert
 * reopens it, with an audit event saying so.
 *
 * `record` must not run concurrently for the same detector (the runner holds a per-detector
 * lock); under that rule counts are exact without re-aggregating an alert's evidence.
 */
export class AlertRecorder {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * Records a detector's findings: new dedup keys become alerts, known ones gain evidence
   * (count, last seen), evidence already recorded is ignored — so replaying a window changes
   * nothing. New evidence on a resolved alert reopens it, with an audit event.
   */
  async record(source: AlertSource, findings: readonly Finding[], now = Date.now()): Promise<RecordResult> {
    const result: RecordResult = { raised: 0, updated: 0, reopened: 0, newHits: 0 };
    if (findings.length === 0) return result;

    // Group by alert, one finding per piece of evidence.
    const groups = new Map<string, { dedupKey: string; hits: Map<string, Finding> }>();
    for (const f of findings) {
      const root = f.dedupRoot ?? (f.rootTokenId || f.tokenId);
      const id = alertId(source.id, root, f.key);
      let g = groups.get(id);
      if (!g) {
        g = { dedupKey: `${source.id}|${root}|${f.key}`, hits: new Map() };
        groups.set(id, g);
      }
      const ek = evidenceKey(f);
      const seen = g.hits.get(ek);
      if (!seen || severityRank(f.severity) > severityRank(seen.severity))
        g.hits.set(ek, { ...f, rootTokenId: f.rootTokenId || f.tokenId });
    }
    const ids = [...groups.keys()];
    const keys = [...new Set([...groups.values()].flatMap((g) => [...g.hits.keys()]))];
    const [existingRows, knownHits] = await Promise.all([
      this.#store.query<AlertRow>(
        `SELECT ${ALERT_COLUMNS} FROM alerts WHERE id IN {ids:Array(String)} ORDER BY id, version DESC LIMIT 1 BY id`,
        { ids },
      ),
      this.#store.query<{ alert_id: string; evidence_key: string }>(
        `SELECT DISTINCT alert_id, evidence_key FROM alert_hits
         WHERE alert_id IN {ids:Array(String)} AND evidence_key IN {keys:Array(String)}`,
        { ids, keys },
      ),
    ]);
    const existing = new Map(existingRows.map((r) => [r.id, r]));
    const known = new Set(knownHits.map((h) => `${h.alert_id}\u0000${h.evidence_key}`));

    const hitRows: AlertHitRow[] = [];
    const alertRows: AlertStoreRow[] = [];
    const eventRows: AlertEventRow[] = [];
    const reopenCandidates: { id: string; latest: Finding; added: number }[] = [];
    const detectedAt = new Date(now).toISOString();
    for (const [id, g] of groups) {
      const fresh = [...g.hits.entries()].filter(([ek]) => !known.has(`${id}\u0000${ek}`)).map(([ek, f]) => ({ ek, f }));
      const prev = existing.get(id);
      if (fresh.length === 0 && prev) continue;
      for (const { ek, f } of fresh) {
        hitRows.push({
          alert_id: id,
          evidence_key: ek,
          trace_id: f.evidence.traceId,
          span_id: f.evidence.spanId,
          time: f.evidence.time,
          detected_at: detectedAt,
          token_id: f.tokenId,
          agent_id: f.agentId,
          target: f.target,
          severity: f.severity,
          reason: f.reason,
        });
      }
      // The alert shows its most severe evidence (the earliest of those): it names the worst
      // thing that happened, and a later, milder repeat does not rewrite its explanation.
      const candidates = fresh.map((x) => x.f).sort(bySeverityThenTime);
      const top = candidates[0];
      const freshTimes = fresh.map((x) => x.f.evidence.time);
      const firstSeen = earliest(prev ? [prev.first_seen, ...freshTimes] : freshTimes);
      const lastSeen = latest(prev ? [prev.last_seen, ...freshTimes] : freshTimes);
      const display =
        !prev || (top && severityRank(top.severity) > severityRank(prev.severity))
          ? fromFinding(top as Finding)
          : {
              severity: prev.severity,
              reason: prev.reason,
              token_id: prev.token_id,
              root_token_id: prev.root_token_id,
              agent_id: prev.agent_id,
              task_id: prev.task_id,
              caller: prev.caller,
              target: prev.target,
              environment: prev.environment,
            };
      alertRows.push({
        id,
        detector: source.id,
        title: source.title,
        dedup_key: g.dedupKey,
        frameworks: [...source.frameworks],
        ...display,
        first_seen: firstSeen,
        last_seen: lastSeen,
        hit_count: String(Number(prev?.hit_count ?? 0) + fresh.length),
        created_at: prev?.created_at ?? detectedAt,
        updated_at: detectedAt,
        version: nextVersion(),
      });
      result.newHits += fresh.length;
      if (!prev) {
        result.raised++;
        raisedTotal.inc({ detector: source.id, severity: display.severity });
        eventRows.push({
          alert_id: id,
          event_id: eventId(id, 'raised'),
          time: detectedAt,
          actor: `detector:${source.id}`,
          action: 'raised',
          from_status: '',
          to_status: 'open',
          detail: display.reason,
        });
      } else {
        result.updated++;
        const newest = [...fresh].sort((a, b) => toMs(b.f.evidence.time) - toMs(a.f.evidence.time))[0]?.f;
        if (newest) reopenCandidates.push({ id, latest: newest, added: fresh.length });
      }
    }

    // Evidence first: if the process dies before the alert row is written, the next run finds
    // the hits known and the alert unchanged — a missed count, never a double one.
    await this.#store.insert('alert_hits', hitRows);

    // A reopening is written before the alert row that carries its evidence: whoever reads the
    // new alert version (the responders look as soon as it is written) reads it open. The other
    // way round, a look between the two writes read the new version as resolved, and nothing
    // brought the alert back to it.
    if (reopenCandidates.length > 0) {
      const triage = await this.#store.query<{ alert_id: string; status: string; assignee: string; triage_version: string }>(
        `SELECT alert_id, argMax(status, version) AS status, argMax(assignee, version) AS assignee, max(version) AS triage_version
         FROM alert_triage WHERE alert_id IN {ids:Array(String)} GROUP BY alert_id`,
        { ids: reopenCandidates.map((c) => c.id) },
      );
      const resolved = new Map(triage.filter((t) => t.status === 'resolved').map((t) => [t.alert_id, t]));
      const triageRows: AlertTriageRow[] = [];
      for (const c of reopenCandidates) {
        const t = resolved.get(c.id);
        if (!t) continue;
        const e = c.latest.evidence;
        triageRows.push({
          alert_id: c.id,
          status: 'open',
          assignee: t.assignee,
          updated_by: `detector:${source.id}`,
          updated_at: detectedAt,
          version: nextVersion(),
        });
        eventRows.push({
          alert_id: c.id,
          // One reopen per resolution: a replay of the same run writes the same event.
          event_id: eventId(c.id, `reopened:${t.triage_version}`),
          time: detectedAt,
          actor: `detector:${source.id}`,
          action: 'reopened',
          from_status: 'resolved',
          to_status: 'open',
          detail: `reopened by new evidence: ${c.added} new hit${c.added === 1 ? '' : 's'}, latest span ${e.traceId || '-'}/${e.spanId || '-'} at ${e.time}`,
        });
        result.reopened++;
        reopenedTotal.inc({ detector: source.id });
      }
      await this.#store.insert('alert_triage', triageRows);
    }
    await this.#store.insert('alerts', alertRows);
    await this.#store.insert('alert_events', eventRows);
    return result;
  }
}

function earliest(times: string[]): string {
  return times.reduce((a, b) => (toMs(b) < toMs(a) ? b : a));
}

function latest(times: string[]): string {
  return times.reduce((a, b) => (toMs(b) > toMs(a) ? b : a));
}

function evidenceKey(f: Finding): string {
  return f.evidence.key ?? `${f.evidence.traceId}/${f.evidence.spanId}`;
}

function eventId(alertId: string, what: string): string {
  return createHash('sha256').update(`${alertId}\u0000${what}`).digest('hex').slice(0, 32);
}

function bySeverityThenTime(a: Finding, b: Finding): number {
  return severityRank(b.severity) - severityRank(a.severity) || toMs(a.evidence.time) - toMs(b.evidence.time);
}

function fromFinding(f: Finding) {
  return {
    severity: f.severity,
    reason: f.reason,
    token_id: f.tokenId,
    root_token_id: f.rootTokenId || f.tokenId,
    agent_id: f.agentId,
    task_id: f.taskId,
    caller: f.caller,
    target: f.target,
    environment: f.environment,
  };
}
