import { type LineageRevocation, type Session, type TokenEventRow, type TokenLineage, msToDateTime64, toMs } from '@intentwatch/core';
import type { Finding } from '@intentwatch/alerts';
import { type DetectContext, type DetectorConfig, type Row, defineDetector } from '../../define-detector.js';
import type { EventFacts } from '../../live/screen.js';
import { type Task, msOf } from '../../intent/intent-resolver.js';
import { usesSql } from '../../intent/sql.js';
import { FW } from '../frameworks.js';
import { agentPhrase, eventEvidence, shortTime } from '../reason.js';
import { DEFAULT_DETECTOR_SETTINGS } from '../../settings.js';

type Kind = 'after_task_end' | 'max_session' | 'deadline';

/**
 * A session kept alive past its intent: refreshed or renewed after it was revoked (RFC 7009: a
 * revocation ends the whole grant, so a later refresh renews a dead session — critical), or after
 * its task ended, or alive (refreshed, renewed or used) longer than `token.max_session_s` from the
 * root's issue, or past the task's deadline. Sessions and revocations come from lineage (`Lineage`
 * in core); the offending uses are then selected in SQL against each token's limit, so only
 * violations leave the store.
 */
export const refreshExtendedSession = defineDetector({
  id: 'refresh_extended_session',
  title: 'Session kept alive past its task or its limit',
  severity: 'high',
  description:
    "A session (root issued token and its refreshed descendants) is refreshed or renewed after it was revoked (any of its tokens, or a token it was delegated from) or after its task ended, or lives (root issue time to the latest refresh, renewal or use) longer than token.max_session_s or past the task's task.deadline. High; critical after revocation.",
  frameworks: [FW.asi03, FW.nhi7, FW.atlasValidAccounts, FW.attackAppAccessToken],
  falsePositives: [
    'A task that legitimately ran long and whose deadline was not updated (emit a new task.event started with the new deadline).',
    'A root grant without token.max_session_s whose refreshed session runs longer than the policy default (INTENTWATCH_DEFAULT_MAX_SESSION_S).',
  ],
  runbook: [
    'Look at the refresh chain (GET /v1/tokens/:id): who kept refreshing, and whether the task was still running.',
    'A refresh after the task ended means something outside the task holds the refresh token: revoke the session.',
    'A refresh or renewal after a revocation means the broker still honours a revoked grant: revoke the session and everything delegated from it, then fix the broker so that revoking one token revokes its whole grant.',
    'Fix the broker policy so that refreshes past the session limit are refused.',
  ],
  tuning: [
    `INTENTWATCH_DEFAULT_MAX_SESSION_S (default ${DEFAULT_DETECTOR_SETTINGS.defaultMaxSessionS}) applies to refreshed sessions whose grants name no token.max_session_s; a root that is never refreshed is limited by its expiry (stale_token_use).`,
    "INTENTWATCH_CLOCK_SKEW_MS is allowed between an agent's use and the session limit, and past a task deadline; a refresh is compared with its root exactly (one broker's clock).",
  ],
  detect,
  judgeEvent,
});

async function detect(ctx: DetectContext): Promise<Finding[]> {
  const [refreshes, active] = await Promise.all([
    ctx.store.query<Row>(
      `SELECT token_id, event, parent_id, time, task_id, agent_id, trace_id, span_id
       FROM token_events
       WHERE event IN ('refreshed', 'renewed')
         AND ((ingested_at > {since:DateTime64(3)} AND ingested_at <= {until:DateTime64(3)}) OR token_id IN {recheckTokens:Array(String)})
       ORDER BY token_id, event, time, span_id
       LIMIT 1 BY token_id, event, time`,
      ctx.params,
    ),
    ctx.store.query<{ token_id: string; last_use: string; renewed: number | string }>(
      `WITH uses AS (${usesSql(ctx.window)})
       SELECT token_id, max(time) AS last_use,
              token_id IN (SELECT token_id FROM token_events WHERE event = 'renewed' AND token_id IN (SELECT token_id FROM uses)) AS renewed
       FROM uses GROUP BY token_id`,
      ctx.params,
    ),
  ]);
  if (refreshes.length === 0 && active.length === 0) return [];
  const sessions = await ctx.lineage.sessions([...refreshes.map((r) => r.token_id), ...active.map((a) => a.token_id)]);
  const lineages = await ctx.lineage.lineages(refreshes.map((r) => r.token_id));
  const renewed = new Set([
    ...refreshes.filter((r) => r.event === 'renewed').map((r) => r.token_id),
    ...active.filter((a) => Number(a.renewed)).map((a) => a.token_id),
  ]);
  const tasks = await ctx.intent.tasks([...sessions.values()].map((s) => s.taskId));
  const skew = ctx.config.clockSkewMs;
  const findings: Finding[] = [];

  for (const r of refreshes) {
    const s = sessions.get(r.token_id);
    if (!s) continue;
    const found = eventFinding(r, s, tasks.get(s.taskId), lineages.get(r.token_id), renewed.has(r.token_id), ctx.config);
    if (found) findings.push(found);
  }

  // Uses: select in SQL only those past their session's limit.
  const limited: { token: string; limitMs: number }[] = [];
  for (const a of active) {
    const s = sessions.get(a.token_id);
    if (!s) continue;
    const limitMs = limitOf(s, tasks.get(s.taskId), ctx.config, renewed.has(a.token_id));
    if (limitMs !== undefined && toMs(a.last_use) > limitMs + skew) limited.push({ token: a.token_id, limitMs: limitMs + skew });
  }
  if (limited.length > 0) {
    const uses = await ctx.store.query<Row>(
      `WITH uses AS (${usesSql(ctx.window)})
       SELECT token_id, time, trace_id, span_id, agent_id, caller, target, environment
       FROM uses
       WHERE token_id IN {limitedTokens:Array(String)}
         AND time > arrayElement({limits:Array(DateTime64(3))}, indexOf({limitedTokens:Array(String)}, token_id))`,
      { ...ctx.params, limitedTokens: limited.map((l) => l.token), limits: limited.map((l) => msToDateTime64(l.limitMs)) },
    );
    for (const u of uses) {
      const s = sessions.get(u.token_id) as Session;
      const task = tasks.get(s.taskId);
      const over = overrun(s, task, toMs(u.time), ctx.config, { session: skew, deadline: skew }, renewed.has(u.token_id));
      if (!over) continue;
      findings.push({
        key: over.kind,
        severity: 'high',
        reason: `${sessionPhrase(s, u.token_id)} was used as token ${u.token_id} by ${agentPhrase(u.agent_id)}${u.target ? ` against ${u.target}` : ''} at ${shortTime(u.time)}, ${over.text}`,
        tokenId: u.token_id,
        rootTokenId: s.rootTokenId,
        agentId: u.agent_id,
        taskId: s.taskId,
        caller: u.caller,
        target: u.target,
        environment: u.environment,
        evidence: { traceId: u.trace_id, spanId: u.span_id, time: u.time },
      });
    }
  }
  return findings;
}

/**
 * The finding a refresh or renewal gives (the row of the detector's `refreshes` query), if any:
 * after a revocation that reaches it, after its task ended, past its session's limit or its
 * task's deadline.
 */
function eventFinding(
  r: Row,
  s: Session,
  task: Task | undefined,
  lineage: TokenLineage | undefined,
  renewed: boolean,
  config: DetectorConfig,
): Finding | undefined {
  const at = toMs(r.time);
  const evidence = eventEvidence(r, r.event === 'renewed' ? `renewed:${r.time}` : r.event);
  const what = r.event === 'renewed' ? `renewed (token ${r.token_id})` : `refreshed as token ${r.token_id}`;
  const base = {
    tokenId: r.token_id,
    rootTokenId: s.rootTokenId,
    agentId: r.agent_id,
    taskId: s.taskId,
    caller: '',
    target: '',
    environment: '',
    evidence,
  };
  // A refresh renews the session it continues, so the refreshing token's own revocation does
  // not count against it; a renewal continues the same token, so it does.
  const revoked = lineage?.revocations.find((x) => x.atMs < at && (r.event === 'renewed' || x.tokenId !== r.token_id));
  if (revoked) {
    return {
      ...base,
      key: 'after_revocation',
      severity: 'critical',
      reason: `${sessionPhrase(s, r.token_id)} was ${what} at ${shortTime(r.time)}, ${Math.round((at - revoked.atMs) / 1000)} s after ${revokedPhrase(revoked)}: ${r.event === 'renewed' ? 'the renewal extends' : 'the refresh renews'} a revoked session`,
    };
  }
  const endedAt = msOf(task?.endedAt);
  if (task?.ended && endedAt !== undefined && at > endedAt) {
    return {
      ...base,
      key: 'after_task_end',
      severity: 'high',
      reason: `${sessionPhrase(s, r.token_id)} was ${what} at ${shortTime(r.time)}, ${Math.round((at - endedAt) / 1000)} s after task ${s.taskId} ended (${task.endEvent} at ${shortTime(task.endedAt)}): the session outlives its task`,
    };
  }
  // The root's issue and its refreshes are stamped by the same broker: no clock skew between
  // them, so the session limit applies exactly; the deadline comes from the orchestrator's clock.
  const over = overrun(s, task, at, config, { session: 0, deadline: config.clockSkewMs }, renewed);
  if (!over) return undefined;
  return {
    ...base,
    key: over.kind,
    severity: 'high',
    reason: `${sessionPhrase(s, r.token_id)} was ${what} at ${shortTime(r.time)}, ${over.text}`,
  };
}

/**
 * A committed refresh or renewal judged live, from its lineage read after it was committed: the
 * finding of {@link eventFinding}. A refresh's session always counts as extended (its chain has
 * a refresh), so whether the token was also renewed only matters for a renewal, which it is.
 */
function judgeEvent(event: TokenEventRow, facts: EventFacts, config: DetectorConfig): Finding[] {
  if (event.event !== 'refreshed' && event.event !== 'renewed') return [];
  const lineage = facts.lineage;
  if (!lineage) return [];
  const row: Row = {
    token_id: event.token_id,
    event: event.event,
    parent_id: event.parent_id,
    time: event.time,
    task_id: event.task_id,
    agent_id: event.agent_id,
    trace_id: event.trace_id,
    span_id: event.span_id,
  };
  const found = eventFinding(row, lineage.session, facts.sessionTask, lineage, event.event === 'renewed', config);
  return found ? [found] : [];
}

/** "session of token tok-1 (issued to agent triage-bot for task T-9 at …, limit 3600 s)". */
function sessionPhrase(s: Session, tokenId: string): string {
  const root = s.chain[s.chain.length - 1];
  const parts: string[] = [];
  if (root?.agentId) parts.push(`to agent ${root.agentId}`);
  if (s.taskId) parts.push(`for task ${s.taskId}`);
  if (s.rootTime) parts.push(`at ${shortTime(s.rootTime)}`);
  const issued = parts.length ? ` issued ${parts.join(' ')}` : '';
  const limit = s.maxSessionS !== undefined ? ` with a session limit of ${s.maxSessionS} s` : '';
  return `${s.rootTokenId === tokenId ? 'token' : 'the session of token'} ${s.rootTokenId}${issued}${limit}`;
}

/** The session's limit in epoch ms: root issue + max session (explicit, or the default once refreshed), or the task deadline, whichever is first. */
function limitOf(s: Session, task: Task | undefined, config: DetectorConfig, renewed: boolean): number | undefined {
  const limits: number[] = [];
  const session = sessionEnd(s, config, renewed);
  if (session !== undefined) limits.push(session);
  const deadline = msOf(task?.deadline);
  if (deadline !== undefined) limits.push(deadline);
  return limits.length ? Math.min(...limits) : undefined;
}

/** "token tok-1 was revoked (offboarded) at …" / "token tok-0, from which the session was delegated, was revoked …". */
function revokedPhrase(r: LineageRevocation): string {
  const why = r.reason ? ` (${r.reason})` : '';
  const from = r.via === 'delegator' ? ', from which the session was delegated,' : '';
  return `token ${r.tokenId}${from} was revoked${why} at ${shortTime(r.at)}`;
}

function sessionEnd(s: Session, config: DetectorConfig, renewed = false): number | undefined {
  const rootMs = msOf(s.rootTime);
  if (rootMs === undefined || !s.complete) return undefined;
  // The policy default applies to sessions that were refreshed or renewed: a lone root is bounded by its own expiry.
  const extended = renewed || s.chain.length > 1 || s.chain[0]?.event === 'refreshed';
  const limitS = s.maxSessionS ?? (extended ? config.defaultMaxSessionS : undefined);
  return limitS === undefined ? undefined : rootMs + limitS * 1000;
}

function overrun(
  s: Session,
  task: Task | undefined,
  atMs: number,
  config: DetectorConfig,
  skew: { session: number; deadline: number },
  renewed = false,
): { kind: Kind; text: string } | undefined {
  const end = sessionEnd(s, config, renewed);
  if (end !== undefined && atMs > end + skew.session) {
    const ageS = Math.round((atMs - (msOf(s.rootTime) as number)) / 1000);
    const limitS = Math.round((end - (msOf(s.rootTime) as number)) / 1000);
    return { kind: 'max_session', text: `${ageS} s after the session began, beyond its ${limitS} s limit` };
  }
  const deadline = msOf(task?.deadline);
  if (deadline !== undefined && atMs > deadline + skew.deadline) {
    return {
      kind: 'deadline',
      text: `${Math.round((atMs - deadline) / 1000)} s past the deadline of task ${s.taskId} (${shortTime(task?.deadline)})`,
    };
  }
  return undefined;
}
