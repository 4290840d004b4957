import type { Store } from '@intentwatch/core';
import type { TokenFacts } from './ssf-events.js';

/** Grantee, workload, environment, grant kind and issuer of each token, from its latest grant (`token.issuer` is the JWT issuer a broker may name). */
export async function tokenFacts(store: Store, tokenIds: string[]): Promise<Map<string, TokenFacts>> {
  const ids = [...new Set(tokenIds.filter(Boolean))];
  const out = new Map<string, TokenFacts>();
  if (ids.length === 0) return out;
  const rows = await store.query<{
    token_id: string;
    grantee: string;
    grantee_workload: string;
    issuer: string;
    grant_environment: string;
    grant_event: string;
  }>(
    `SELECT token_id, argMax(agent_id, time) AS grantee, argMax(workload_id, time) AS grantee_workload,
            argMax(attributes['token.issuer'], time) AS issuer, argMax(environment, time) AS grant_environment, argMax(event, time) AS grant_event
     FROM token_events WHERE token_id IN {ids:Array(String)} AND event IN ('issued', 'refreshed', 'exchanged')
     GROUP BY token_id`,
    { ids },
  );
  for (const r of rows)
    out.set(r.token_id, {
      grantee: r.grantee,
      issuer: r.issuer,
      granteeWorkload: r.grantee_workload,
      environment: r.grant_environment,
      event: r.grant_event,
    });
  return out;
}
