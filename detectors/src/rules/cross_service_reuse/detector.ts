import { type Grant, type Session, type SpanRow, type TokenEventRow, grantsSql, refreshChangesGrantee } from '@intentwatch/core';
import type { Finding } from '@intentwatch/alerts';
import { type DetectContext, type Row, defineDetector } from '../../define-detector.js';
import { usesSql } from '../../intent/sql.js';
import { type EventFacts, type UseFacts, withinAudience } from '../../live/screen.js';
import { useRow } from '../../live/use-row.js';
import { FW } from '../frameworks.js';
import { agentPhrase, eventEvidence, intentPhrase, list, mcpPhrase, shortTime } from '../reason.js';

/**
 * A ClickHouse boolean: `target` is one of the services in `audience`. Names compare
 * case-insensitively; an audience entry written as a URL (OAuth audiences often are) stands for
 * its host; and a host covers its subdomains (audience `github.com` admits `api.github.com`).
 */
export function withinAudienceSql(target: string, audience: string): string {
  const t = `lower(${target})`;
  const host = "if(position(a, '://') > 0, domain(a), a)";
  return `arrayExists(a -> (${t} = a OR endsWith(${t}, concat('.', a))), arrayFilter(a -> a != '', arrayMap(a -> lower(${host}), ${audience})))`;
}

/**
 * A token used outside where and by whom it was issued: against a service outside its
 * `token.audience`, by a caller other than its grantee, or from another environment; or a
 * session refreshed for someone other than its grantee (a refresh keeps the grantee, RFC 6749
 * §6; only an `exchanged` token — RFC 8693 delegation — may name another agent). The session and
 * its grantee come from lineage (`Lineage` in core).
 */
export const crossServiceReuse = defineDetector({
  id: 'cross_service_reuse',
  title: 'Token reused outside its audience, grantee or environment',
  severity: 'high',
  description:
    'A token is used against a target service outside its token.audience, presented by a caller (gen_ai.agent.id, falling back to service.name; workload.id when both sides name one) other than its grantee, or used from an environment other than the one it was issued for; or a session is refreshed for an agent other than its grantee (token exchange may change the grantee, a refresh may not). High; critical when the caller or the environment differs, and for a refresh by someone else.',
  frameworks: [FW.asi03, FW.nhi9, FW.atlasValidAccounts, FW.attackAppAccessToken],
  falsePositives: [
    'The target is a known alias of an audience entry that is not a subdomain of it (e.g. api.github.com for github): audiences are compared by name, case-insensitively, a URL by its host, a host with its subdomains.',
    "An agent emits spans without gen_ai.agent.id, so its service.name stands in and differs from the grantee's name.",
    'A legitimate hand-off passed the token itself instead of exchanging it (fix the broker flow: use token exchange).',
  ],
  runbook: [
    'Open the evidence spans: which service was called, by which agent, from which environment.',
    'Compare with the grant (GET /v1/tokens/:id): audience, grantee, environment.',
    'If the caller is not the grantee, treat the token as leaked: revoke it and find how the caller obtained it.',
    'If only the audience differs, check whether the agent was steered (prompt injection) into calling that service.',
    "A refresh by someone else: the session's refresh token is in another agent's hands — revoke the session and everything delegated from it, and find how the refresh token left its grantee.",
  ],
  tuning: ['Audiences are exact service names; broaden token.audience at the broker rather than suppressing here.'],
  detect,
  judgeUse,
  judgeEvent,
});

/** A committed use judged live: the row `reuseSql` gives for it, when it is a violation. */
function judgeUse(use: SpanRow, facts: UseFacts): Finding[] {
  const g = facts.lineage?.grant;
  if (!g) return [];
  const u = useRow(use);
  const outside = g.audience.length > 0 && u.target !== '' && !withinAudience(u.target, g);
  const otherCaller =
    g.workloadId !== '' && u.workload_id !== ''
      ? u.workload_id !== g.workloadId
      : g.agentId !== '' && u.agent_id !== '' && u.agent_id !== g.agentId;
  const otherEnvironment = g.environment !== '' && u.environment !== '' && u.environment !== g.environment;
  if (!outside && !otherCaller && !otherEnvironment) return [];
  return [
    useFinding({
      ...u,
      use_task_id: u.task_id,
      grant_event: g.event,
      grantee: g.agentId,
      grantee_workload: g.workloadId,
      audience: g.audience,
      grant_task_id: g.taskId,
      grant_environment: g.environment,
      outside_audience: outside ? 1 : 0,
      other_caller: otherCaller ? 1 : 0,
      other_environment: otherEnvironment ? 1 : 0,
    }),
  ];
}

async function detect(ctx: DetectContext): Promise<Finding[]> {
  const [uses, refreshes] = await Promise.all([
    ctx.store.query<Row>(reuseSql(ctx), ctx.params),
    ctx.store.query<Row>(
      `SELECT token_id, time, trace_id, span_id, agent_id, workload_id, task_id
       FROM token_events
       WHERE event = 'refreshed'
         AND ((ingested_at > {since:DateTime64(3)} AND ingested_at <= {until:DateTime64(3)}) OR token_id IN {recheckTokens:Array(String)})
       ORDER BY token_id, time, span_id
       LIMIT 1 BY token_id`,
      ctx.params,
    ),
  ]);
  const findings = uses.map(useFinding);
  if (refreshes.length === 0) return findings;
  const ids = refreshes.map((r) => r.token_id as string);
  const [grants, sessions] = await Promise.all([ctx.lineage.grants(ids), ctx.lineage.sessions(ids)]);
  for (const r of refreshes as Row[]) {
    const grant = grants.get(r.token_id);
    const session = sessions.get(r.token_id);
    const found = grant && session ? refreshFinding(r, grant, session) : undefined;
    if (found) findings.push(found);
  }
  return findings;
}

/** A refresh (the row of the refreshes query) that hands the session to someone other than its grantee. */
function refreshFinding(r: Row, grant: Grant, session: Session): Finding | undefined {
  if (!session.complete || !refreshChangesGrantee(grant, session)) return undefined;
  const byWorkload = Boolean(grant.workloadId && session.granteeWorkload);
  const who = byWorkload ? `workload ${grant.workloadId}` : `agent ${grant.agentId}`;
  const grantee = byWorkload ? `workload ${session.granteeWorkload}` : `agent ${session.grantee}`;
  const forTask = session.taskId ? ` for task ${session.taskId}` : '';
  return {
    key: 'refresh_grantee',
    severity: 'critical',
    reason: `the session of token ${session.rootTokenId} issued to ${grantee}${forTask} was refreshed as token ${r.token_id} for ${who} at ${shortTime(r.time)}: a refresh keeps the grantee, only token exchange may delegate to another agent — the refresh token left its grantee`,
    tokenId: r.token_id,
    rootTokenId: session.rootTokenId,
    agentId: grant.agentId,
    taskId: session.taskId,
    caller: '',
    target: '',
    environment: '',
    evidence: eventEvidence(r, 'refreshed'),
  };
}

/** A committed refresh judged live, from the lineage read after it was committed. */
function judgeEvent(event: TokenEventRow, facts: EventFacts): Finding[] {
  const lineage = facts.lineage;
  if (event.event !== 'refreshed' || !lineage?.grant) return [];
  const row: Row = { token_id: event.token_id, time: event.time, trace_id: event.trace_id, span_id: event.span_id };
  const found = refreshFinding(row, lineage.grant, lineage.session);
  return found ? [found] : [];
}

function reuseSql(ctx: DetectContext): string {
  return `
    WITH uses AS (${usesSql(ctx.window)}),
         grants AS (${grantsSql('SELECT token_id FROM uses')})
    SELECT u.time AS time, u.trace_id AS trace_id, u.span_id AS span_id, u.token_id AS token_id, u.task_id AS use_task_id,
           u.agent_id AS agent_id, u.workload_id AS workload_id, u.caller AS caller, u.target AS target,
           u.environment AS environment, u.mcp_method AS mcp_method, u.tool AS tool, u.resource AS resource, g.grant_event AS grant_event, g.grantee AS grantee,
           g.grantee_workload AS grantee_workload, g.audience AS audience, g.grant_task_id AS grant_task_id,
           g.grant_environment AS grant_environment,
           length(g.audience) > 0 AND u.target != '' AND NOT ${withinAudienceSql('u.target', 'g.audience')} AS outside_audience,
           if(g.grantee_workload != '' AND u.workload_id != '',
              u.workload_id != g.grantee_workload,
              g.grantee != '' AND u.agent_id != '' AND u.agent_id != g.grantee) AS other_caller,
           g.grant_environment != '' AND u.environment != '' AND u.environment != g.grant_environment AS other_environment
    FROM uses AS u
    INNER JOIN grants AS g ON g.token_id = u.token_id
    WHERE outside_audience OR other_caller OR other_environment`;
}

function useFinding(r: Row): Finding {
  const outside = Boolean(Number(r.outside_audience));
  const otherCaller = Boolean(Number(r.other_caller));
  const otherEnv = Boolean(Number(r.other_environment));
  const taskId = r.grant_task_id || r.use_task_id;
  const intent = intentPhrase(
    {
      tokenId: r.token_id,
      event: r.grant_event,
      grantee: r.grantee,
      taskId,
      audience: r.audience,
      environment: r.grant_environment,
    },
    { audience: true, environment: otherEnv },
  );
  const deviations: string[] = [];
  if (outside) deviations.push(`${r.target} is outside its audience ${list(r.audience)}`);
  if (otherCaller) {
    deviations.push(
      r.grantee_workload && r.workload_id && r.workload_id !== r.grantee_workload
        ? `workload ${r.workload_id} is not its grantee's workload ${r.grantee_workload}`
        : `${agentPhrase(r.agent_id)} is not its grantee ${r.grantee}`,
    );
  }
  if (otherEnv) deviations.push(`environment ${r.environment} is not the one it was issued for (${r.grant_environment})`);
  const from = r.environment && otherEnv ? ` from environment ${r.environment}` : '';
  return {
    key: r.target || '(no target)',
    severity: otherCaller || otherEnv ? 'critical' : 'high',
    reason: `${intent} was used ${usedFor(r)} by ${agentPhrase(r.agent_id)}${from}: ${deviations.join('; ')}`,
    tokenId: r.token_id,
    agentId: r.agent_id,
    taskId,
    caller: r.caller,
    target: r.target,
    environment: r.environment,
    evidence: { traceId: r.trace_id, spanId: r.span_id, time: r.time },
  };
}

/** "for MCP tool refund on server mcp-billing" for an MCP use, else "against <target>". */
function usedFor(r: Row): string {
  const mcp = mcpPhrase({ mcpMethod: r.mcp_method, tool: r.tool, resource: r.resource, target: r.target });
  return mcp ? `for ${mcp}` : `against ${r.target || 'an unnamed service'}`;
}
