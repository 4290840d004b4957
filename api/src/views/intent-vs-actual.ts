import { type Store, anyGlobMatcher } from '@intentwatch/core';
import type { DimensionOut, IntentVsActualOut, TaskOut, TokenEventOut } from '../contract/schemas.js';

/** The comparison of a token nothing is known about (no id: an alert about an agent as a whole). */
export function noComparison(tokenId: string): IntentVsActualOut {
  const none: DimensionOut = { granted: [], restricted: false, used: [] };
  return {
    tokenId,
    grantKnown: false,
    intent: '',
    services: none,
    scopes: none,
    resources: none,
    tools: none,
    environments: none,
    agents: none,
  };
}

/** Distinct values per dimension kept in the comparison (the most used first). */
const MAX_VALUES = 100;

type DimensionName = 'services' | 'scopes' | 'resources' | 'tools' | 'environments' | 'agents';

/**
 * What a token was granted for next to what it was used for, dimension by dimension: target
 * services against `token.audience`, scopes against `token.scopes`, resources against the
 * `token.resources` globs, tools against the task's `task.tools`, the environment and the
 * grantee against where and by whom it was presented. An empty grant list restricts nothing
 * (as the detectors read it); with no grant at all, nothing is known to be allowed.
 */
export async function intentVsActual(
  store: Store,
  tokenId: string,
  grant: TokenEventOut | null,
  task: TaskOut | null,
): Promise<IntentVsActualOut> {
  const rows = await store.query<{ dim: DimensionName; value: string; n: string }>(
    `SELECT dim, value, n FROM (
       SELECT 'services' AS dim, target AS value, count() AS n FROM spans WHERE token_id = {id:String} AND target != '' GROUP BY target
       UNION ALL SELECT 'scopes', scope, count() FROM spans ARRAY JOIN scopes AS scope WHERE token_id = {id:String} AND scope != '' GROUP BY scope
       UNION ALL SELECT 'resources', resource, count() FROM spans WHERE token_id = {id:String} AND resource != '' GROUP BY resource
       UNION ALL SELECT 'tools', tool, count() FROM spans WHERE token_id = {id:String} AND tool != '' GROUP BY tool
       UNION ALL SELECT 'environments', environment, count() FROM spans WHERE token_id = {id:String} AND environment != '' GROUP BY environment
       UNION ALL SELECT 'agents', agent_id, count() FROM spans WHERE token_id = {id:String} AND agent_id != '' GROUP BY agent_id
     )
     ORDER BY dim, n DESC, value
     LIMIT ${MAX_VALUES} BY dim`,
    { id: tokenId },
  );
  const used = (dim: DimensionName) => rows.filter((r) => r.dim === dim).map((r) => ({ value: r.value, count: Number(r.n) }));
  const dimension = (dim: DimensionName, granted: string[], allows: (value: string) => boolean, known = grant !== null): DimensionOut => ({
    granted,
    restricted: granted.length > 0,
    used: used(dim).map((u) => ({ ...u, allowed: known ? granted.length === 0 || allows(u.value) : null })),
  });
  const audience = grant?.audience ?? [];
  const scopes = grant?.scopes ?? [];
  const resources = grant?.resources ?? [];
  const tools = task?.tools ?? [];
  const allowedResource = anyGlobMatcher(resources);
  const environments = grant?.environment ? [grant.environment] : [];
  const agents = grant?.agentId ? [grant.agentId] : [];
  return {
    tokenId,
    grantKnown: grant !== null,
    intent: task?.intent ?? '',
    services: dimension('services', audience, (v) => audience.includes(v)),
    scopes: dimension('scopes', scopes, (v) => scopes.includes(v)),
    resources: dimension('resources', resources, allowedResource),
    // Tools are the task's plan, not the grant's: the task decides whether they are known.
    tools: dimension('tools', tools, (v) => tools.includes(v), task !== null),
    environments: dimension('environments', environments, (v) => environments.includes(v)),
    agents: dimension('agents', agents, (v) => agents.includes(v)),
  };
}
