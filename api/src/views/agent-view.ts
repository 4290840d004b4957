import { type Store, msToDateTime64, parseStoreTime } from '@intentwatch/core';
import { type AlertCount, type AlertStore, type Severity, severityRank } from '@intentwatch/alerts';
import type { AgentDetailOut, AgentSummaryOut, AgentTokenOut } from '../contract/schemas.js';
import { GRANT_EVENTS, grantOf, revocationOf, tasks, tokenEvents } from './rows.js';
import type { SuppressionView } from './suppression-view.js';

/** Default activity window. */
export const DEFAULT_WINDOW_MS = 7 * 24 * 3600 * 1000;
/** Buckets of the activity chart, at most. */
const MAX_BUCKETS = 60;
const MAX_AGENTS = 1000;

interface UsageRow {
  agent_id: string;
  uses: string;
  tokens_used: string;
  targets: string[];
  first_seen: string;
  last_seen: string;
}

/**
 * Agents as the agents pages show them: every agent named by a grant or a use, with its tokens,
 * its activity in a window (by ingestion time, which leads the `spans` sort key, so the window
 * bounds the read) and its open alerts.
 */
export class AgentView {
  readonly #store: Store;
  readonly #alerts: AlertStore;
  readonly #suppressions: SuppressionView;

  constructor(store: Store, alerts: AlertStore, suppressions: SuppressionView) {
    this.#store = store;
    this.#alerts = alerts;
    this.#suppressions = suppressions;
  }

  async list(options: { sinceMs: number; q?: string }): Promise<AgentSummaryOut[]> {
    const params = { since: msToDateTime64(options.sinceMs), q: options.q ?? '' };
    const match = "({q:String} = '' OR positionCaseInsensitiveUTF8(agent_id, {q:String}) > 0)";
    const active = await this.#suppressions.active();
    const [usage, grants, counts] = await Promise.all([
      this.#store.query<UsageRow>(
        `SELECT agent_id, count() AS uses, uniqExact(token_id) AS tokens_used, topK(10)(target) AS targets,
                min(time) AS first_seen, max(time) AS last_seen
         FROM spans WHERE ingested_at >= {since:DateTime64(3)} AND token_id != '' AND agent_id != '' AND ${match}
         GROUP BY agent_id ORDER BY last_seen DESC LIMIT ${MAX_AGENTS}`,
        params,
      ),
      this.#store.query<{ agent_id: string; tokens: string; first_grant: string; last_grant: string }>(
        `SELECT agent_id, uniqExact(token_id) AS tokens, min(time) AS first_grant, max(time) AS last_grant
         FROM token_events WHERE event IN {grants:Array(String)} AND agent_id != '' AND ${match}
         GROUP BY agent_id LIMIT ${MAX_AGENTS}`,
        { ...params, grants: [...GRANT_EVENTS] },
      ),
      this.#alerts.counts({ status: 'open', suppressions: active, ...(options.q ? { q: options.q } : {}) }, { byAgent: true }),
    ]);
    const ids = new Set([...usage.map((u) => u.agent_id), ...grants.map((g) => g.agent_id)]);
    const use = new Map(usage.map((u) => [u.agent_id, u]));
    const grant = new Map(grants.map((g) => [g.agent_id, g]));
    const alertsBy = openAlertsByAgent(counts);
    return [...ids]
      .map((agentId) => {
        const u = use.get(agentId);
        const g = grant.get(agentId);
        const open = alertsBy.get(agentId);
        return {
          agentId,
          tokens: Number(g?.tokens ?? 0),
          tokensUsed: Number(u?.tokens_used ?? 0),
          uses: Number(u?.uses ?? 0),
          targets: (u?.targets ?? []).filter(Boolean),
          firstSeen: earliest(u?.first_seen, g?.first_grant),
          lastSeen: latest(u?.last_seen, g?.last_grant),
          openAlerts: open?.count ?? 0,
          worstOpenSeverity: open?.worst ?? null,
        };
      })
      .sort((a, b) => b.openAlerts - a.openAlerts || ms(b.lastSeen) - ms(a.lastSeen) || a.agentId.localeCompare(b.agentId));
  }

  /** The agent, or undefined when no grant, use or alert names it. */
  async detail(agentId: string, options: { sinceMs: number; now?: number }): Promise<AgentDetailOut | undefined> {
    const since = msToDateTime64(options.sinceMs);
    const active = await this.#suppressions.active();
    const [granted, used, workloads, taskIds, alertPage, counts] = await Promise.all([
      this.#store.query<{ token_id: string }>(
        `SELECT DISTINCT token_id FROM token_events WHERE agent_id = {id:String} AND event IN {grants:Array(String)} LIMIT 1000`,
        { id: agentId, grants: [...GRANT_EVENTS] },
      ),
      this.#store.query<{ token_id: string; uses: string; first: string; last: string; targets: string[] }>(
        `SELECT token_id, count() AS uses, min(time) AS first, max(time) AS last, groupUniqArray(10)(target) AS targets
         FROM spans WHERE ingested_at >= {since:DateTime64(3)} AND agent_id = {id:String} AND token_id != ''
         GROUP BY token_id ORDER BY last DESC LIMIT 1000`,
        { id: agentId, since },
      ),
      this.#store.query<{ w: string }>(
        `SELECT DISTINCT w FROM (
           SELECT workload_id AS w FROM token_events WHERE agent_id = {id:String}
           UNION ALL SELECT workload_id FROM spans WHERE ingested_at >= {since:DateTime64(3)} AND agent_id = {id:String}
         ) WHERE w != '' ORDER BY w LIMIT 50`,
        { id: agentId, since },
      ),
      this.#store.query<{ task_id: string }>(
        `SELECT DISTINCT task_id FROM (
           SELECT task_id FROM task_events WHERE agent_id = {id:String}
           UNION ALL SELECT task_id FROM token_events WHERE agent_id = {id:String}
         ) WHERE task_id != '' LIMIT 200`,
        { id: agentId },
      ),
      this.#alerts.list({ agentId, suppressed: 'include', limit: 200 }),
      this.#alerts.counts({ agentId, status: 'open', suppressions: active }),
    ]);
    if (granted.length === 0 && used.length === 0 && alertPage.alerts.length === 0 && taskIds.length === 0) return undefined;

    const tokenIds = [...new Set([...granted.map((g) => g.token_id), ...used.map((u) => u.token_id)])];
    const [events, taskMap, alerts] = await Promise.all([
      tokenEvents(this.#store, tokenIds),
      tasks(
        this.#store,
        taskIds.map((t) => t.task_id),
      ),
      this.#suppressions.decorate(alertPage.alerts, active),
    ]);
    const usage = new Map(used.map((u) => [u.token_id, u]));
    const openByToken = new Map<string, number>();
    for (const a of alerts) {
      if (a.status !== 'open' || a.suppression) continue;
      for (const t of new Set([a.tokenId, a.rootTokenId])) openByToken.set(t, (openByToken.get(t) ?? 0) + 1);
    }
    const tokenList: AgentTokenOut[] = tokenIds
      .map((tokenId) => {
        const ev = events.get(tokenId);
        const g = grantOf(ev);
        const u = usage.get(tokenId);
        return {
          tokenId,
          event: g?.event ?? 'unknown',
          grantedTo: g?.agentId ?? '',
          grantedAt: g?.time ?? null,
          expiresAt: g?.expiresAt ?? null,
          revokedAt: revocationOf(ev)?.time ?? null,
          taskId: g?.taskId ?? '',
          audience: g?.audience ?? [],
          scopes: g?.scopes ?? [],
          uses: Number(u?.uses ?? 0),
          lastUse: u?.last ?? null,
          openAlerts: openByToken.get(tokenId) ?? 0,
        };
      })
      .sort((a, b) => ms(b.lastUse ?? b.grantedAt) - ms(a.lastUse ?? a.grantedAt));

    const firstUse = used.reduce<string | null>((m, u) => earliest(m ?? undefined, u.first), null);
    const lastUse = used.reduce<string | null>((m, u) => latest(m ?? undefined, u.last), null);
    const activity = await this.#activity(
      agentId,
      since,
      firstUse,
      lastUse,
      alertPage.alerts.map((a) => a.id),
    );
    const open = openAlertsByAgent(counts.map((c) => ({ ...c, agentId }))).get(agentId);
    const grantTimes = tokenList.map((t) => (t.grantedTo === agentId ? t.grantedAt : null)).filter((t): t is string => t !== null);
    return {
      agentId,
      since: new Date(options.sinceMs).toISOString(),
      tokens: granted.length,
      tokensUsed: used.length,
      uses: used.reduce((n, u) => n + Number(u.uses), 0),
      targets: [...new Set(used.flatMap((u) => u.targets))].filter(Boolean).slice(0, 10),
      firstSeen: earliest(firstUse ?? undefined, ...grantTimes),
      lastSeen: latest(lastUse ?? undefined, ...grantTimes),
      openAlerts: open?.count ?? 0,
      worstOpenSeverity: open?.worst ?? null,
      workloads: workloads.map((w) => w.w),
      tokenList,
      tasks: [...taskMap.values()].sort((a, b) => ms(b.startedAt) - ms(a.startedAt)),
      activity,
      alerts,
    };
  }

  /** Uses per time bucket between the first and last use (at most MAX_BUCKETS buckets), and by target. */
  async #activity(agentId: string, since: string, first: string | null, last: string | null, alertIds: string[]) {
    if (!first || !last) return { bucketS: 60, buckets: [], byTarget: [] };
    const spanS = Math.max(60, (ms(last) - ms(first)) / 1000);
    const bucketS = niceBucket(spanS / MAX_BUCKETS);
    const [buckets, byTarget] = await Promise.all([
      this.#store.query<{ t: string; uses: string; targets: string; flagged: string }>(
        `SELECT toStartOfInterval(s.time, INTERVAL {b:UInt32} SECOND) AS t, count() AS uses, uniqExact(s.target) AS targets,
                countIf((s.trace_id, s.span_id) IN (
                  SELECT trace_id, span_id FROM alert_hits WHERE alert_id IN {alerts:Array(String)}
                )) AS flagged
         FROM spans AS s
         WHERE s.ingested_at >= {since:DateTime64(3)} AND s.agent_id = {id:String} AND s.token_id != ''
         GROUP BY t ORDER BY t LIMIT 1000`,
        { id: agentId, since, b: bucketS, alerts: alertIds },
      ),
      this.#store.query<{ value: string; n: string }>(
        `SELECT target AS value, count() AS n FROM spans
         WHERE ingested_at >= {since:DateTime64(3)} AND agent_id = {id:String} AND token_id != '' AND target != ''
         GROUP BY target ORDER BY n DESC, value LIMIT 20`,
        { id: agentId, since },
      ),
    ]);
    return {
      bucketS,
      buckets: buckets.map((b) => ({
        time: toRfc3339(b.t),
        uses: Number(b.uses),
        targets: Number(b.targets),
        flagged: Number(b.flagged),
      })),
      byTarget: byTarget.map((r) => ({ value: r.value, count: Number(r.n) })),
    };
  }
}

/** Open, unsuppressed alerts per agent, and the worst severity among them. */
function openAlertsByAgent(counts: readonly AlertCount[]): Map<string, { count: number; worst: Severity }> {
  const out = new Map<string, { count: number; worst: Severity }>();
  for (const c of counts) {
    if (c.status !== 'open' || c.suppressed || !c.agentId) continue;
    const cur = out.get(c.agentId);
    const worst = cur && severityRank(cur.worst) >= severityRank(c.severity) ? cur.worst : c.severity;
    out.set(c.agentId, { count: (cur?.count ?? 0) + c.count, worst });
  }
  return out;
}

/** A bucket of 1, 5, 15 or 30 minutes, 1, 3, 6 or 12 hours, or whole days, at least `seconds`. */
function niceBucket(seconds: number): number {
  const steps = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400];
  return steps.find((s) => s >= seconds) ?? Math.ceil(seconds / 86400) * 86400;
}

/** `toStartOfInterval` of a DateTime64 answers in the column's form; DateTime answers without a zone. */
function toRfc3339(t: string): string {
  return /[zZ]|[+-]\d\d:?\d\d$/.test(t) ? t : `${t.replace(' ', 'T')}Z`;
}

function ms(time: string | null | undefined): number {
  return time ? parseStoreTime(time) : 0;
}

function earliest(...times: (string | null | undefined)[]): string | null {
  const known = times.filter((t): t is string => Boolean(t));
  return known.length ? known.reduce((a, b) => (ms(b) < ms(a) ? b : a)) : null;
}

function latest(...times: (string | null | undefined)[]): string | null {
  const known = times.filter((t): t is string => Boolean(t));
  return known.length ? known.reduce((a, b) => (ms(b) > ms(a) ? b : a)) : null;
}
