/**
 * The lineage rules as ClickHouse SQL, for detectors that select offending uses in the engine.
 * Every value reaches SQL as a query parameter; fragments differ only in shape.
 */

/** Lifecycle events that grant a token (its first one is its grant). */
export const GRANT_EVENTS = ['issued', 'refreshed', 'exchanged'] as const;
/** `GRANT_EVENTS` as an SQL tuple, for `event IN …`. */
export const GRANT_EVENTS_SQL = "('issued', 'refreshed', 'exchanged')";
/** Events that link a token to a parent: `refreshed` (same session) and `exchanged` (a delegation hop). */
export const LINK_EVENTS = ['refreshed', 'exchanged'] as const;

/**
 * The grant of each token named by `tokensFrom` (a subquery of token ids): its first
 * issued/refreshed/exchanged event. A broker that re-sends an event changes nothing.
 */
export function grantsSql(tokensFrom: string): string {
  return `SELECT token_id, event AS grant_event, time AS granted_at, parent_id, task_id AS grant_task_id,
      agent_id AS grantee, workload_id AS grantee_workload, audience, scopes AS granted_scopes,
      resources AS granted_resources, expires_at, max_session_s, environment AS grant_environment,
      trace_id AS grant_trace_id, span_id AS grant_span_id, 1 AS has_grant
    FROM token_events
    WHERE event IN ${GRANT_EVENTS_SQL} AND token_id IN (${tokensFrom})
    ORDER BY token_id, time, span_id
    LIMIT 1 BY token_id`;
}

/**
 * The `renewed` events of each token named by `tokensFrom`, as two parallel arrays: when each
 * renewal happened and the expiry it set. Read with {@link effectiveExpirySql}.
 */
export function renewalsSql(tokensFrom: string): string {
  return `SELECT token_id, groupArray(time) AS renewed_at, groupArray(assumeNotNull(expires_at)) AS renewed_until
    FROM token_events
    WHERE event = 'renewed' AND expires_at IS NOT NULL AND token_id IN (${tokensFrom})
    GROUP BY token_id`;
}

/**
 * A ClickHouse expression: a token's expiry as it stood at `at` — the grant's `expires_at`,
 * pushed later by every `renewed` event that happened by then (Vault-style renewal extends the
 * same token; a renewal after a use does not excuse it). NULL when neither names an expiry.
 */
export function effectiveExpirySql(at: string, grantExpires: string, renewedAt: string, renewedUntil: string): string {
  const renewed = `arrayFilter((e, t) -> t <= ${at}, ${renewedUntil}, ${renewedAt})`;
  return `if(length(${renewed}) = 0, ${grantExpires}, if(${grantExpires} IS NULL, arrayMax(${renewed}), greatest(assumeNotNull(${grantExpires}), arrayMax(${renewed}))))`;
}

/**
 * A table of each token's effective revocation, built from query parameters the lineage
 * resolver computed ({@link revocationParams}): `token_id`, `revoked_at`, `revoked_by` (the token
 * whose `revoked` event it was), `revoked_via` (`self`, `session` or `delegator`),
 * `revoked_reason`, `revoked` (1). Join it on `token_id`.
 */
export function lineageRevocationsSql(): string {
  return `SELECT x.1 AS token_id, parseDateTime64BestEffort(x.2, 9, 'UTC') AS revoked_at, x.3 AS revoked_by, x.4 AS revoked_via,
      x.5 AS revoked_reason, 1 AS revoked
    FROM (SELECT arrayJoin(arrayZip({lineageTokens:Array(String)}, {lineageRevokedAt:Array(String)}, {lineageRevokedBy:Array(String)},
      {lineageRevokedVia:Array(String)}, {lineageRevokedReason:Array(String)})) AS x)`;
}
