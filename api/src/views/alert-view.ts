import type { Store } from '@intentwatch/core';
import type { AlertStore, Evidence } from '@intentwatch/alerts';
import { DETECTORS } from '@intentwatch/detectors';
import type { AlertDetailOut, EvidenceDetailOut, LifetimeOut } from '../contract/schemas.js';
import { noComparison } from './intent-vs-actual.js';
import { TOKEN_EVENT_COLUMNS, type TokenEventRow, USE_COLUMNS, type UseRow, tasks, toTokenEvent, toUse } from './rows.js';
import type { SuppressionView } from './suppression-view.js';
import type { TokenView } from './token-view.js';

function guideOf(detector: string): AlertDetailOut['guide'] {
  const d = DETECTORS.find((x) => x.id === detector);
  if (!d) return null;
  return { description: d.description, falsePositives: [...d.falsePositives], runbook: [...d.runbook], tuning: [...d.tuning] };
}

const NO_LIFETIME: LifetimeOut = {
  issuedAt: null,
  expiresAt: null,
  revokedAt: null,
  sessionStartedAt: null,
  sessionEndsAt: null,
  maxSessionS: null,
  lastRefreshAt: null,
  refreshes: 0,
  taskDeadline: null,
  taskEndedAt: null,
  firstUse: null,
  lastUse: null,
};

/**
 * One alert as the alert page shows it: the alert, its evidence resolved from the stored
 * spans and lifecycle events (what was done, to what, by whom — not just ids), its audit
 * trail, and its token's grant and task next to the token's actual use.
 */
export class AlertView {
  readonly #store: Store;
  readonly #alerts: AlertStore;
  readonly #suppressions: SuppressionView;
  readonly #tokens: TokenView;

  constructor(store: Store, alerts: AlertStore, suppressions: SuppressionView, tokens: TokenView) {
    this.#store = store;
    this.#alerts = alerts;
    this.#suppressions = suppressions;
    this.#tokens = tokens;
  }

  async detail(id: string): Promise<AlertDetailOut | undefined> {
    const alert = await this.#alerts.get(id);
    if (!alert) return undefined;
    // The token's side (grant, task, intent vs actual, lifetime) reads as the token page does.
    const [history, evidence, token, [decorated]] = await Promise.all([
      this.#alerts.history(id),
      this.resolve(alert.evidence),
      alert.tokenId ? this.#tokens.detail(alert.tokenId, { uses: 1 }) : undefined,
      this.#suppressions.decorate([alert]),
    ]);
    const task = token?.task ?? (alert.taskId ? ((await tasks(this.#store, [alert.taskId])).get(alert.taskId) ?? null) : null);
    return {
      ...(decorated as NonNullable<typeof decorated>),
      evidence,
      history,
      grant: token?.grant ?? null,
      task,
      intentVsActual: token?.intentVsActual ?? noComparison(alert.tokenId),
      lifetime: token?.lifetime ?? NO_LIFETIME,
      guide: guideOf(alert.detector),
    };
  }

  /** Evidence items with the span, token event or task event each points at (null where none is stored). */
  async resolve(evidence: readonly Evidence[]): Promise<EvidenceDetailOut[]> {
    const traces = [...new Set(evidence.map((e) => e.traceId).filter(Boolean))];
    const spans = [...new Set(evidence.map((e) => e.spanId).filter(Boolean))];
    if (traces.length === 0 || spans.length === 0) {
      return evidence.map((e) => ({ ...e, use: null, tokenEvent: null, taskEvent: null }));
    }
    const ids = { traces, spans };
    const [uses, hits, tokenRows, taskRows] = await Promise.all([
      this.#store.query<UseRow>(
        `SELECT ${USE_COLUMNS} FROM spans WHERE trace_id IN {traces:Array(String)} AND span_id IN {spans:Array(String)}
         LIMIT 1 BY trace_id, span_id`,
        ids,
      ),
      this.#store.query<{ trace_id: string; span_id: string; ids: string[] }>(
        `SELECT trace_id, span_id, groupUniqArray(alert_id) AS ids FROM alert_hits
         WHERE trace_id IN {traces:Array(String)} AND span_id IN {spans:Array(String)} GROUP BY trace_id, span_id`,
        ids,
      ),
      this.#store.query<TokenEventRow>(
        `SELECT ${TOKEN_EVENT_COLUMNS} FROM token_events WHERE trace_id IN {traces:Array(String)} AND span_id IN {spans:Array(String)}
         LIMIT 1 BY trace_id, span_id`,
        ids,
      ),
      this.#store.query<{ trace_id: string; span_id: string; event: string; time: string; task_id: string; agent_id: string }>(
        `SELECT trace_id, span_id, event, time, task_id, agent_id FROM task_events
         WHERE trace_id IN {traces:Array(String)} AND span_id IN {spans:Array(String)} LIMIT 1 BY trace_id, span_id`,
        ids,
      ),
    ]);
    const key = (t: string, s: string) => `${t}/${s}`;
    const alertIds = new Map(hits.map((h) => [key(h.trace_id, h.span_id), h.ids.sort()]));
    const useBy = new Map(uses.map((u) => [key(u.trace_id, u.span_id), u]));
    const tokenBy = new Map(tokenRows.map((r) => [key(r.trace_id, r.span_id), r]));
    const taskBy = new Map(taskRows.map((r) => [key(r.trace_id, r.span_id), r]));
    return evidence.map((e) => {
      const k = key(e.traceId, e.spanId);
      const use = useBy.get(k);
      const tokenEvent = tokenBy.get(k);
      const taskEvent = taskBy.get(k);
      return {
        traceId: e.traceId,
        spanId: e.spanId,
        time: e.time,
        use: use ? toUse(use, alertIds.get(k)) : null,
        tokenEvent: tokenEvent ? toTokenEvent(tokenEvent) : null,
        taskEvent: taskEvent
          ? { event: taskEvent.event, time: taskEvent.time, taskId: taskEvent.task_id, agentId: taskEvent.agent_id }
          : null,
      };
    });
  }
}
