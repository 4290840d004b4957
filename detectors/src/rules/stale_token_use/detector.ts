import {
  type SpanRow,
  effectiveExpirySql,
  grantsSql,
  lineageRevocationsSql,
  renewalsSql,
  revocationParams,
  stateAt,
  toMs,
} from '@intentwatch/core';
import type { Finding } from '@intentwatch/alerts';
import { type DetectContext, type DetectorConfig, type Row, defineDetector } from '../../define-detector.js';
import { tasksSql, usesSql } from '../../intent/sql.js';
import type { UseFacts } from '../../live/screen.js';
import { useRow } from '../../live/use-row.js';
import { FW } from '../frameworks.js';
import { agentPhrase, intentPhrase, secondsBetween, shortTime } from '../reason.js';
import { DEFAULT_DETECTOR_SETTINGS } from '../../settings.js';

/**
 * A token used after it should be dead: past `token.expires_at` as renewed by then (beyond the
 * clock-skew tolerance), after a revocation that reaches it — its own, its session's (RFC 7009
 * revokes the whole grant) or a delegating ancestor's (RFC 8693: an exchanged token holds no
 * authority its subject token lost) — or after its task ended. Lineage decides which revocation
 * reaches a use (`Lineage` in core); the uses past it are selected in SQL. One alert per token; the
 * worst reason wins (revocation, then expiry, then task end).
 */
export const staleTokenUse = defineDetector({
  id: 'stale_token_use',
  title: "Token used after expiry, revocation (its own, its session's or a delegator's) or the end of its task",
  severity: 'high',
  description:
    "A token is used after token.expires_at (as renewed by then, beyond a clock-skew tolerance), after its own, its session's or a delegating ancestor's revoked event, or after its task ended. Critical after revocation, high otherwise.",
  frameworks: [FW.asi03, FW.nhi1, FW.atlasValidAccounts, FW.attackAppAccessToken],
  falsePositives: [
    "Clocks that disagree by more than INTENTWATCH_CLOCK_SKEW_MS between the broker and the agent's host.",
    'A request that started just before the task ended and was retried after it.',
    'A service that does not check expiry accepted the token: the use is real, the risk is the service.',
  ],
  runbook: [
    'Check whether the service accepted the request (span status): a stale token that still works is a broken revocation.',
    'After a revocation: treat the holder as compromised, find where the token was copied.',
    'Revoked through its session or a delegator: the broker revoked one token but kept honouring the rest of the grant (a refresh token, or a token exchanged from it) — fix revocation at the broker so that it revokes the whole grant and its delegations, then revoke this lineage.',
    'After a task end: the agent kept the token past its task — find why it still ran.',
  ],
  tuning: [`INTENTWATCH_CLOCK_SKEW_MS (default ${DEFAULT_DETECTOR_SETTINGS.clockSkewMs}) is the tolerance applied to expiry.`],
  detect,
  judgeUse,
});

/** A committed use judged live: the row `staleUsesSql` gives for it, when it is past its revocation, expiry or task end. */
function judgeUse(use: SpanRow, facts: UseFacts, config: DetectorConfig): Finding[] {
  const lineage = facts.lineage;
  const g = lineage?.grant;
  if (!lineage || !g) return [];
  const u = useRow(use);
  const at = toMs(u.time);
  const revocation = lineage.revocations[0];
  const afterRevocation = revocation !== undefined && at > revocation.atMs;
  const expiresAt = stateAt(lineage, at).expiresAt;
  const afterExpiry = expiresAt !== null && at > toMs(expiresAt) + config.clockSkewMs;
  const task = facts.task;
  const afterTaskEnd = task?.ended === true && task.endedAt !== null && at > toMs(task.endedAt);
  if (!afterRevocation && !afterExpiry && !afterTaskEnd) return [];
  return [
    toAlert({
      ...u,
      has_grant: 1,
      grant_event: g.event,
      grantee: g.agentId,
      audience: g.audience,
      expires_at: expiresAt,
      renewed: lineage.renewals.some((r) => r.atMs <= at) ? 1 : 0,
      task_id: g.taskId !== '' ? g.taskId : u.task_id,
      revoked: revocation ? 1 : 0,
      revoked_at: revocation?.at ?? null,
      revoked_by: revocation?.tokenId ?? '',
      revoked_via: revocation?.via ?? '',
      revoked_reason: revocation?.reason ?? '',
      task_ended: task?.ended ? 1 : 0,
      ended_at: task?.endedAt ?? null,
      end_event: task?.endEvent ?? '',
      after_revocation: afterRevocation ? 1 : 0,
      after_expiry: afterExpiry ? 1 : 0,
      after_task_end: afterTaskEnd ? 1 : 0,
    }),
  ];
}

async function detect(ctx: DetectContext): Promise<Finding[]> {
  const tokens = await ctx.store.query<{ token_id: string }>(
    `WITH uses AS (${usesSql(ctx.window)}) SELECT DISTINCT token_id FROM uses`,
    ctx.params,
  );
  if (tokens.length === 0) return [];
  const lineages = await ctx.lineage.lineages(tokens.map((t) => t.token_id));
  const rows = await ctx.store.query<Row>(staleUsesSql(ctx), { ...ctx.params, ...revocationParams(lineages.values()) });
  return rows.map(toAlert);
}

/** The window's uses past their revocation (from lineage), expiry (as renewed) or task end. */
function staleUsesSql(ctx: DetectContext): string {
  return `
    WITH uses AS (${usesSql(ctx.window)}),
         grants AS (${grantsSql('SELECT token_id FROM uses')}),
         renewals AS (${renewalsSql('SELECT token_id FROM uses')}),
         revocations AS (${lineageRevocationsSql()}),
         joined AS (
           SELECT u.time AS time, u.trace_id AS trace_id, u.span_id AS span_id, u.token_id AS token_id,
                  u.agent_id AS agent_id, u.caller AS caller, u.target AS target, u.environment AS environment,
                  g.has_grant AS has_grant, g.grant_event AS grant_event, g.grantee AS grantee,
                  g.audience AS audience,
                  ${effectiveExpirySql('u.time', 'g.expires_at', 'n.renewed_at', 'n.renewed_until')} AS expires_at,
                  length(arrayFilter(t -> t <= u.time, n.renewed_at)) > 0 AS renewed,
                  if(g.grant_task_id != '', g.grant_task_id, u.task_id) AS task_id,
                  r.revoked AS revoked, r.revoked_at AS revoked_at, r.revoked_by AS revoked_by, r.revoked_via AS revoked_via,
                  r.revoked_reason AS revoked_reason
           FROM uses AS u
           LEFT JOIN grants AS g ON g.token_id = u.token_id
           LEFT JOIN renewals AS n ON n.token_id = u.token_id
           LEFT JOIN revocations AS r ON r.token_id = u.token_id
         ),
         tasks AS (${tasksSql('SELECT task_id FROM joined')})
    SELECT j.*, t.task_ended AS task_ended, t.ended_at AS ended_at, t.end_event AS end_event,
           j.revoked = 1 AND j.time > j.revoked_at AS after_revocation,
           j.expires_at IS NOT NULL AND j.time > j.expires_at + toIntervalMillisecond({skewMs:Int64}) AS after_expiry,
           t.task_ended = 1 AND j.time > t.ended_at AS after_task_end
    FROM joined AS j LEFT JOIN tasks AS t ON t.task_id = j.task_id
    WHERE after_revocation OR after_expiry OR after_task_end`;
}

function toAlert(r: Row): Finding {
  const intent = intentPhrase(
    { tokenId: r.token_id, event: r.grant_event, grantee: r.grantee, taskId: r.task_id, audience: r.audience },
    { audience: true },
  );
  const by = `by ${agentPhrase(r.agent_id)}${r.target ? ` against ${r.target}` : ''}`;
  let reason: string;
  let severity: Finding['severity'] = 'high';
  if (Number(r.after_revocation)) {
    severity = 'critical';
    const why = r.revoked_reason ? ` (${r.revoked_reason})` : '';
    const after = `${secondsBetween(r.revoked_at, r.time)} s after`;
    const at = `at ${shortTime(r.revoked_at)}`;
    const what =
      r.revoked_via === 'session'
        ? `its session was revoked: token ${r.revoked_by} of the same session was revoked${why} ${at}`
        : r.revoked_via === 'delegator'
          ? `token ${r.revoked_by}, from which it was delegated, was revoked${why} ${at}: revocation ends every token exchanged from it`
          : `it was revoked${why} ${at}`;
    reason = `${intent} was used ${by} at ${shortTime(r.time)}, ${after} ${what}`;
  } else if (Number(r.after_expiry)) {
    const renewed = Number(r.renewed) ? ' (as last renewed)' : '';
    reason = `${intent} was used ${by} at ${shortTime(r.time)}, ${secondsBetween(r.expires_at, r.time)} s after it expired at ${shortTime(r.expires_at)}${renewed}`;
  } else {
    reason = `${intent} was used ${by} at ${shortTime(r.time)}, ${secondsBetween(r.ended_at, r.time)} s after the task ended (${r.end_event} at ${shortTime(r.ended_at)})`;
  }
  return {
    key: `stale:${r.token_id}`,
    severity,
    reason,
    tokenId: r.token_id,
    agentId: r.agent_id,
    taskId: r.task_id,
    caller: r.caller,
    target: r.target,
    environment: r.environment,
    evidence: { traceId: r.trace_id, spanId: r.span_id, time: r.time },
  };
}
