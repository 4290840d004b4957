import { type EffectiveState, Lineage, type Store, delegationChain, parseStoreTime, sessionOf, stateAt } from '@intentwatch/core';
import type { AlertStore } from '@intentwatch/alerts';
import type { ChainLinkOut, TaskOut, TokenDetailOut, TokenEventOut } from '../contract/schemas.js';
import { intentVsActual } from './intent-vs-actual.js';
import { USE_COLUMNS, type UseRow, grantOf, revocationOf, tasks, toUse, tokenEvents } from './rows.js';
import type { SuppressionView } from './suppression-view.js';

export interface TokenViewOptions {
  /** Session limit for sessions whose grants name none (`INTENTWATCH_DEFAULT_MAX_SESSION_S`). */
  defaultMaxSessionS?: number;
}

/**
 * A token as an analyst reads it: its lifecycle events, the session it belongs to (the root
 * `issued` token and its refreshes), the delegation chain (`exchanged` hops from the original
 * grant), what it was granted for against what it was used for, and every use on a timeline.
 * Sessions, delegation chains, descendants and each token's effective state (revoked itself,
 * through its session or through a delegator; expired as renewed) come from lineage (`Lineage`
 * in core), the same rules the detectors apply.
 */
export class TokenView {
  readonly #store: Store;
  readonly #alerts: AlertStore;
  readonly #suppressions: SuppressionView;
  readonly #defaultMaxSessionS: number | undefined;

  constructor(store: Store, alerts: AlertStore, suppressions: SuppressionView, options: TokenViewOptions = {}) {
    this.#store = store;
    this.#alerts = alerts;
    this.#suppressions = suppressions;
    this.#defaultMaxSessionS = options.defaultMaxSessionS;
  }

  /** The token, or undefined when nothing at all is known about it. */
  async detail(tokenId: string, options: { uses?: number; now?: number } = {}): Promise<TokenDetailOut | undefined> {
    const now = options.now ?? Date.now();
    const usesLimit = options.uses ?? 500;
    const events = new Map<string, TokenEventOut[]>();
    const load = async (ids: string[]) => {
      const missing = ids.filter((id) => id && !events.has(id));
      if (missing.length === 0) return;
      const found = await tokenEvents(this.#store, missing);
      for (const id of missing) events.set(id, found.get(id) ?? []);
    };
    const lineage = new Lineage(this.#store);
    const grants = await lineage.grants([tokenId]);
    const sessionInfo = sessionOf(tokenId, grants);
    const complete = sessionInfo.complete;
    const rootTokenId = sessionInfo.rootTokenId;
    // The session: its root and every refresh down from it (this token included, even before its root arrives).
    const inSession = new Set([rootTokenId, ...((await lineage.descendants([rootTokenId], ['refreshed'])).get(rootTokenId) ?? [])]);
    for (const g of sessionInfo.chain) inSession.add(g.tokenId);
    inSession.add(tokenId);
    // Delegations out of the session: tokens exchanged from its tokens, and everything derived from them.
    const out = [...(await lineage.children(inSession)).values()]
      .flat()
      .filter((c) => c.event === 'exchanged' && !inSession.has(c.tokenId));
    const below = await lineage.descendants(out.map((c) => c.tokenId));
    const delegatedTo = [...new Set(out.flatMap((c) => [c.tokenId, ...(below.get(c.tokenId) ?? [])]))].filter((id) => !inSession.has(id));
    // The delegation chain: one session root per exchange hop, from the original grant.
    const hops = delegationChain(rootTokenId, await lineage.grants([rootTokenId]));
    await load([tokenId, ...inSession, ...delegatedTo, ...hops]);
    const lineages = await lineage.lineages([...new Set([tokenId, ...inSession, ...delegatedTo, ...hops])]);

    const own = events.get(tokenId) ?? [];
    const grant = grantOf(own);
    const chainIds = [...new Set([...inSession, ...delegatedTo, ...hops])];
    const [useCounts, totals, items, alertPage] = await Promise.all([
      this.#store.query<{ token_id: string; n: string }>(
        'SELECT token_id, count() AS n FROM spans WHERE token_id IN {ids:Array(String)} GROUP BY token_id',
        { ids: chainIds },
      ),
      this.#store.query<{ n: string; first: string; last: string; task: string }>(
        `SELECT count() AS n, min(time) AS first, max(time) AS last, topKIf(1)(task_id, task_id != '')[1] AS task
         FROM spans WHERE token_id = {id:String}`,
        { id: tokenId },
      ),
      this.#store.query<UseRow>(
        `SELECT ${USE_COLUMNS} FROM spans WHERE token_id = {id:String} ORDER BY time DESC, span_id LIMIT {n:UInt32}`,
        {
          id: tokenId,
          n: usesLimit,
        },
      ),
      this.#alerts.list({ tokenId: rootTokenId, suppressed: 'include', limit: 200 }),
    ]);
    const total = Number(totals[0]?.n ?? 0);
    if (own.length === 0 && total === 0 && alertPage.alerts.length === 0) return undefined;

    const taskId = sessionInfo.taskId || totals[0]?.task || '';
    const [taskMap, ivsa, hits, alerts] = await Promise.all([
      tasks(this.#store, [taskId]),
      intentVsActual(this.#store, tokenId, grant, null),
      this.#hits(
        tokenId,
        alertPage.alerts.map((a) => a.id),
      ),
      this.#suppressions.decorate(alertPage.alerts),
    ]);
    const task: TaskOut | null = taskMap.get(taskId) ?? null;
    // The tools side needs the task, which the first comparison did not have.
    const comparison = task ? await intentVsActual(this.#store, tokenId, grant, task) : ivsa;

    const uses = new Map(useCounts.map((r) => [r.token_id, Number(r.n)]));
    const stateOf = (id: string, taskEndedAt: string | null = null): EffectiveState | undefined => {
      const l = lineages.get(id);
      return l ? stateAt(l, now, { taskEndedAt }) : undefined;
    };
    const link = (id: string): ChainLinkOut => {
      const ev = events.get(id);
      const g = grantOf(ev);
      return {
        tokenId: id,
        event: g?.event ?? 'unknown',
        time: g?.time ?? null,
        parentId: g?.parentId ?? '',
        agentId: g?.agentId ?? '',
        taskId: g?.taskId ?? '',
        audience: g?.audience ?? [],
        scopes: g?.scopes ?? [],
        expiresAt: g?.expiresAt ?? null,
        revokedAt: revocationOf(ev)?.time ?? null,
        uses: uses.get(id) ?? 0,
        current: id === tokenId,
        state: stateOut(stateOf(id)),
      };
    };
    const byTime = (a: ChainLinkOut, b: ChainLinkOut) => ms(a.time) - ms(b.time);
    const sessionLinks = [...inSession].map(link).sort(byTime);
    const root = grantOf(events.get(rootTokenId));
    const limits = [...inSession].map((id) => grantOf(events.get(id))?.maxSessionS).filter((s): s is number => typeof s === 'number');
    // A session no grant describes has no limit to speak of; a described one falls back to policy.
    const maxSessionS = root?.maxSessionS ?? (limits.length ? Math.min(...limits) : grant ? (this.#defaultMaxSessionS ?? null) : null);
    const revoked = revocationOf(own);
    const state = stateOf(tokenId, task?.endedAt ?? null);
    const refreshes = sessionLinks.filter((l) => l.event === 'refreshed' && l.time !== null);
    const startedAt = complete ? (root?.time ?? null) : null;

    return {
      tokenId,
      status: !grant ? 'ungoverned' : state?.revoked ? 'revoked' : state?.status === 'expired' ? 'expired' : 'active',
      state: stateOut(state),
      grant,
      events: own,
      task,
      session: {
        rootTokenId,
        complete,
        maxSessionS,
        startedAt,
        endsAt: startedAt && maxSessionS !== null ? new Date(ms(startedAt) + maxSessionS * 1000).toISOString() : null,
        tokens: sessionLinks,
      },
      delegation: { chain: hops.map(link), delegatedTo: delegatedTo.map(link).sort(byTime) },
      intentVsActual: comparison,
      lifetime: {
        issuedAt: grant?.time ?? null,
        expiresAt: state?.expiresAt ?? grant?.expiresAt ?? null,
        revokedAt: revoked?.time ?? state?.revoked?.at ?? null,
        sessionStartedAt: startedAt,
        sessionEndsAt: startedAt && maxSessionS !== null ? new Date(ms(startedAt) + maxSessionS * 1000).toISOString() : null,
        maxSessionS,
        lastRefreshAt: refreshes.at(-1)?.time ?? null,
        refreshes: refreshes.length,
        taskDeadline: task?.deadline ?? null,
        taskEndedAt: task?.endedAt ?? null,
        firstUse: total > 0 ? (totals[0]?.first ?? null) : null,
        lastUse: total > 0 ? (totals[0]?.last ?? null) : null,
      },
      uses: { total, items: items.map((r) => toUse(r, hits.get(`${r.trace_id}/${r.span_id}`))), truncated: total > items.length },
      alerts,
    };
  }

  /** Alert ids by `traceId/spanId` of the token's uses that are evidence of `alertIds`. */
  async #hits(tokenId: string, alertIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (alertIds.length === 0) return out;
    const rows = await this.#store.query<{ trace_id: string; span_id: string; ids: string[] }>(
      `SELECT trace_id, span_id, groupUniqArray(alert_id) AS ids FROM alert_hits
       WHERE alert_id IN {alerts:Array(String)} AND token_id = {id:String}
       GROUP BY trace_id, span_id`,
      { alerts: alertIds, id: tokenId },
    );
    for (const r of rows) out.set(`${r.trace_id}/${r.span_id}`, r.ids.sort());
    return out;
  }
}

function stateOut(s: EffectiveState | undefined): ChainLinkOut['state'] {
  return {
    status: s?.status ?? 'valid',
    revokedAt: s?.revoked?.at ?? null,
    revokedBy: s?.revoked?.tokenId ?? null,
    revokedVia: s?.revoked?.via ?? null,
    revokedReason: s?.revoked ? s.revoked.reason : null,
    expiresAt: s?.expiresAt ?? null,
    renewedUntil: s?.renewedUntil ?? null,
  };
}

function ms(time: string | null): number {
  return time ? parseStoreTime(time) : 0;
}
