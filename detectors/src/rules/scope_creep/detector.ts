import { type SpanRow, type TokenEventRow, grantsSql, normalizeResource } from '@intentwatch/core';
import type { Finding } from '@intentwatch/alerts';
import { type DetectContext, type Row, defineDetector } from '../../define-detector.js';
import { matchesAnyGlobSql, tasksSql, usesSql } from '../../intent/sql.js';
import { type EventFacts, type UseFacts, scopeList as scopesOf, toolsOf, viewOf } from '../../live/screen.js';
import { useRow } from '../../live/use-row.js';
import { FW } from '../frameworks.js';
import { agentPhrase, eventEvidence, intentPhrase, list, mcpPhrase } from '../reason.js';

/**
 * A token used for more than it was granted: a scope outside `token.scopes`, a resource outside
 * `token.resources` (globs), a tool outside the task's `task.tools` — or a `refreshed` /
 * `exchanged` token that carries scopes or audience its parent did not have.
 */
export const scopeCreep = defineDetector({
  id: 'scope_creep',
  title: 'Token used beyond its granted scopes, resources or tools',
  severity: 'high',
  description:
    "A use exercises a scope outside token.scopes, touches a resource outside token.resources, or invokes a tool outside the task's task.tools; or a refreshed/exchanged token carries scopes or audience its parent did not have. High; critical for escalation through refresh or exchange.",
  frameworks: [FW.asi03, FW.asi02, FW.nhi5, FW.atlasExfilViaApi],
  falsePositives: [
    'The task plan (task.tools) was extended at run time without a new task.event started.',
    'The broker grants a scope under another name than the one the service reports (e.g. repo vs repo:read).',
    'A resource path is reported in another form than the grant patterns (url.path with a prefix such as /api/v3).',
  ],
  runbook: [
    'Read the offending span: which scope, resource or tool, and what the task was for (task.intent).',
    'For escalation: find who asked the broker for the wider token (trace of the refresh/exchange event) and why the broker allowed it.',
    'If the agent was steered by untrusted input (prompt injection), revoke the token and end the task.',
  ],
  tuning: [
    'Scopes and tools are compared exactly; resources by the globs of token.resources (* within a segment, ** across), in their normal form: percent-escapes decoded, repeated slashes collapsed, . and .. segments resolved.',
    'Empty token.scopes / token.resources / task.tools mean "not restricted" and never fire.',
  ],
  query: (ctx) => [usesQuery(ctx), escalationQuery()],
  toAlert: async (r, ctx) =>
    r.kind === 'escalation'
      ? escalation(r, (await ctx.lineage.sessions([r.parent_id])).get(r.parent_id)?.rootTokenId ?? r.parent_id)
      : useFindings(r),
  judgeUse,
  judgeEvent,
});

/**
 * A committed refresh or exchange judged live: the row `escalationQuery` gives for it, from the
 * parent's grant (read after the event was committed), when the child carries more.
 */
function judgeEvent(event: TokenEventRow, facts: EventFacts): Finding[] {
  if (event.event !== 'refreshed' && event.event !== 'exchanged') return [];
  const parent = facts.parent?.grant;
  if (!parent || !facts.parent) return [];
  const { scopes: parentScopes, scopeSet: parentSet } = viewOf(parent);
  const extraScopes = parentScopes.length > 0 ? scopesOf(event.scopes).filter((s) => !parentSet.has(s)) : [];
  const parentAudience = viewOf(parent).audienceEntries;
  const extraAudience = parent.audience.length > 0 ? event.audience.filter((a) => !parentAudience.has(a)) : [];
  if (extraScopes.length === 0 && extraAudience.length === 0) return [];
  const row: Row = {
    token_id: event.token_id,
    event: event.event,
    time: event.time,
    parent_id: event.parent_id,
    task_id: event.task_id,
    agent_id: event.agent_id,
    trace_id: event.trace_id,
    span_id: event.span_id,
    parent_event: parent.event,
    parent_grantee: parent.agentId,
    parent_task_id: parent.taskId,
    parent_scopes: parentScopes,
    parent_audience: parent.audience,
    extra_scopes: extraScopes,
    extra_audience: extraAudience,
  };
  return [escalation(row, facts.parent.session.rootTokenId)];
}

/** A committed use judged live: the row `usesQuery` gives for it, when it is a violation. */
function judgeUse(use: SpanRow, facts: UseFacts): Finding[] {
  const g = facts.lineage?.grant;
  if (!g) return [];
  const u = useRow(use);
  const view = viewOf(g);
  const granted = view.scopes;
  const extra = granted.length > 0 ? scopesOf(u.scopes).filter((s) => !view.scopeSet.has(s)) : [];
  const outsideResources = u.resource !== '' && g.resources.length > 0 && !view.matches(u.resource);
  const task = facts.task;
  const started = task?.started ?? false;
  const tools = task?.tools ?? [];
  const outsideTools = u.tool !== '' && started && task !== undefined && tools.length > 0 && !toolsOf(task).has(u.tool);
  if (extra.length === 0 && !outsideResources && !outsideTools) return [];
  return useFindings({
    ...u,
    grant_event: g.event,
    grantee: g.agentId,
    granted_scopes: granted,
    granted_resources: g.resources,
    task_id: g.taskId !== '' ? g.taskId : u.task_id,
    task_started: started ? 1 : 0,
    tools,
    intent: task?.intent ?? '',
    extra_scopes: extra,
    outside_resources: outsideResources ? 1 : 0,
    outside_tools: outsideTools ? 1 : 0,
  });
}

function usesQuery(ctx: DetectContext): string {
  return `
    WITH uses AS (${usesSql(ctx.window)}),
         grants AS (${grantsSql('SELECT token_id FROM uses')}),
         joined AS (
           SELECT u.time AS time, u.trace_id AS trace_id, u.span_id AS span_id, u.token_id AS token_id,
                  u.agent_id AS agent_id, u.caller AS caller, u.target AS target, u.environment AS environment,
                  ${scopeList('u.scopes')} AS used_scopes, u.resource AS resource, u.resource_raw AS resource_raw, u.tool AS tool, u.mcp_method AS mcp_method,
                  g.grant_event AS grant_event, g.grantee AS grantee, ${scopeList('g.granted_scopes')} AS granted_scopes,
                  g.granted_resources AS granted_resources,
                  if(g.grant_task_id != '', g.grant_task_id, u.task_id) AS task_id
           FROM uses AS u INNER JOIN grants AS g ON g.token_id = u.token_id
         ),
         tasks AS (${tasksSql('SELECT task_id FROM joined')})
    SELECT 'use' AS kind, j.*, t.task_started AS task_started, t.tools AS tools, t.intent AS intent,
           if(length(j.granted_scopes) > 0, arrayFilter(s -> NOT has(j.granted_scopes, s), j.used_scopes), []) AS extra_scopes,
           j.resource != '' AND length(j.granted_resources) > 0
             AND NOT ${matchesAnyGlobSql('j.resource', 'j.granted_resources')} AS outside_resources,
           j.tool != '' AND t.task_started AND length(t.tools) > 0 AND NOT has(t.tools, j.tool) AS outside_tools
    FROM joined AS j LEFT JOIN tasks AS t ON t.task_id = j.task_id
    WHERE length(extra_scopes) > 0 OR outside_resources OR outside_tools`;
}

/**
 * Refreshed/exchanged grants in the window (or whose parent's grant arrived in it, as a
 * re-examined token) that carry scopes or audience beyond their parent's.
 */
function escalationQuery(): string {
  return `
    WITH children AS (
           SELECT token_id, event, time, parent_id, task_id, agent_id, scopes, audience, trace_id, span_id
           FROM token_events
           WHERE event IN ('refreshed', 'exchanged')
             AND ((ingested_at > {since:DateTime64(3)} AND ingested_at <= {until:DateTime64(3)}) OR token_id IN {recheckTokens:Array(String)})
           ORDER BY token_id, time, span_id
           LIMIT 1 BY token_id
         ),
         parents AS (${grantsSql('SELECT parent_id FROM children')})
    SELECT 'escalation' AS kind, c.token_id AS token_id, c.event AS event, c.time AS time, c.parent_id AS parent_id,
           c.task_id AS task_id, c.agent_id AS agent_id, c.trace_id AS trace_id, c.span_id AS span_id,
           c.scopes AS child_scopes, c.audience AS child_audience,
           p.grant_event AS parent_event, p.grantee AS parent_grantee, p.grant_task_id AS parent_task_id,
           ${scopeList('p.granted_scopes')} AS parent_scopes, p.audience AS parent_audience,
           if(length(parent_scopes) > 0, arrayFilter(s -> NOT has(parent_scopes, s), ${scopeList('c.scopes')}), []) AS extra_scopes,
           if(length(p.audience) > 0, arrayFilter(a -> NOT has(p.audience, a), c.audience), []) AS extra_audience
    FROM children AS c INNER JOIN parents AS p ON p.token_id = c.parent_id
    WHERE length(extra_scopes) > 0 OR length(extra_audience) > 0`;
}

/**
 * Scopes as a flat list: an entry may hold several OAuth-style, space-separated scopes
 * ("repo:read repo:write"), which compare one by one.
 */
function scopeList(column: string): string {
  return `arrayDistinct(arrayFilter(s -> s != '', arrayFlatten(arrayMap(s -> splitByWhitespace(s), ${column}))))`;
}

function useFindings(r: Row): Finding[] {
  const base = {
    severity: 'high' as const,
    tokenId: r.token_id,
    agentId: r.agent_id,
    taskId: r.task_id,
    caller: r.caller,
    target: r.target,
    environment: r.environment,
    evidence: { traceId: r.trace_id, spanId: r.span_id, time: r.time },
  };
  const mcp = mcpPhrase({ mcpMethod: r.mcp_method, tool: r.tool, resource: r.resource, target: r.target });
  const who = `${agentPhrase(r.agent_id)}${mcp ? ` through ${mcp}` : r.target ? ` against ${r.target}` : ''}`;
  const intent = (show: { scopes?: boolean }) =>
    intentPhrase({ tokenId: r.token_id, event: r.grant_event, grantee: r.grantee, taskId: r.task_id, scopes: r.granted_scopes }, show);
  const out: Finding[] = [];
  const extra: string[] = r.extra_scopes ?? [];
  if (extra.length > 0) {
    const sorted = [...extra].sort();
    out.push({
      ...base,
      key: `scope:${sorted.join(',')}`,
      reason: `${intent({ scopes: true })} exercised scope ${sorted.join(', ')} outside its grant, used by ${who}`,
    });
  }
  if (Number(r.outside_resources)) {
    out.push({
      ...base,
      key: `resource:${r.target}`,
      reason: `${intent({})} and resources ${list(r.granted_resources)} touched ${r.resource}, outside its resources${climb(r.resource_raw)}, used by ${who}`,
    });
  }
  if (Number(r.outside_tools)) {
    const forWhat = r.intent ? ` (${r.intent})` : '';
    out.push({
      ...base,
      key: `tool:${r.tool}`,
      reason: mcp
        ? `${intent({})} invoked ${mcp}, outside the task's tools ${list(r.tools)}${forWhat}, used by ${agentPhrase(r.agent_id)}`
        : `${intent({})} invoked tool ${r.tool}, outside the task's tools ${list(r.tools)}${forWhat}, used by ${who}`,
    });
  }
  return out;
}

/**
 * What the analyst needs to know when the resource as sent differs from its normal form (which
 * the grant was matched against): a `..` in it, plain or percent-encoded, tried to climb out.
 */
function climb(raw: string | undefined): string {
  if (!raw) return '';
  // Cut on a character boundary: half a surrogate pair would fail the alert's insert.
  const cut = raw.length > 200 ? (raw.charCodeAt(199) >= 0xd800 && raw.charCodeAt(199) <= 0xdbff ? 199 : 200) : raw.length;
  const shown = JSON.stringify(cut < raw.length ? `${raw.slice(0, cut)}…` : raw);
  return normalizeResource(raw).climbed
    ? ` (sent as ${shown}: the raw resource tried to climb out of its grant with ..)`
    : ` (sent as ${shown})`;
}

/** The finding of an escalation row; it belongs to the parent's session (`root`): that is the grant being widened. */
function escalation(r: Row, root: string): Finding {
  const widened: string[] = [];
  if (r.extra_scopes.length) widened.push(`scopes ${r.extra_scopes.join(', ')}`);
  if (r.extra_audience.length) widened.push(`audience ${r.extra_audience.join(', ')}`);
  const taskId = r.task_id || r.parent_task_id;
  const parent = intentPhrase(
    { tokenId: r.parent_id, event: r.parent_event, grantee: r.parent_grantee, scopes: r.parent_scopes, audience: r.parent_audience },
    { scopes: true, audience: true },
  );
  const forWhom = r.agent_id ? ` to agent ${r.agent_id}` : '';
  const forTask = taskId ? ` for task ${taskId}` : '';
  return {
    key: `escalation:${r.token_id}`,
    severity: 'critical',
    reason: `token ${r.token_id} ${r.event} from ${parent}${forWhom}${forTask} carries ${widened.join(' and ')} that its parent did not have: escalation through ${r.event === 'refreshed' ? 'refresh' : 'exchange'}`,
    tokenId: r.token_id,
    rootTokenId: root,
    agentId: r.agent_id,
    taskId,
    caller: '',
    target: '',
    environment: '',
    evidence: eventEvidence(r, r.event),
  };
}
