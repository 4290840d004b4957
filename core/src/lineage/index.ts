/**
 * Lineage: the one place that knows sessions, delegation chains, descendants and a token's
 * effective state at an instant. Detectors (SQL on ClickHouse and the runner's re-check set),
 * responders' revoke targets and the API's token view all read lineage through this module.
 *
 * The rules (docs/conventions.md §1.2), each with why:
 * - A session is a root `issued` (or `exchanged`) token and every `refreshed` descendant.
 *   Why: a refresh token continues the same grant (RFC 6749 §6).
 * - Revoking any token of a session ends the whole session from that instant; a refresh or
 *   renewal after it renews a revoked session. Why: RFC 7009 §2.1 — revoking a token revokes
 *   the grant it belongs to, and with it every token issued under that grant.
 * - Revoking a token ends the authority of every token `exchanged` from it, transitively (and of
 *   their sessions). Why: RFC 8693 derives the new token from a subject token; a kill switch
 *   that leaves descendants alive is no kill switch.
 * - A refresh keeps the grantee; only `exchanged` may change it. Why: RFC 6749 §6 binds a
 *   refresh token to the client it was issued to, while RFC 8693 exists to delegate to another.
 * - `renewed` extends the same token's expiry (`token.expires_at`) from the instant of renewal,
 *   and counts toward its session's `token.max_session_s`. Why: a renewal (Vault-style) keeps the
 *   same credential alive, which is exactly the lifetime the session limit bounds.
 * - A lifecycle event may arrive after the uses it concerns: {@link Lineage.affected} names the
 *   tokens whose uses must be looked at again when it arrives.
 *
 * Effective state at an instant ({@link stateAt}): valid, expired (renewed until …), revoked
 * itself, revoked through its session, revoked through a delegator, or task ended — revocation
 * first, then expiry, then task end.
 *
 * Cost: every walk is bounded ({@link MAX_LINEAGE_DEPTH} levels, {@link MAX_LINEAGE_TOKENS}
 * tokens) and reads `token_events` by token (its sort key) or by parent (a bloom-filter index),
 * for the tokens asked about only: a detector run's lineage cost follows the lineages its new
 * rows touch, not history.
 */
export {
  Lineage,
  MAX_LINEAGE_DEPTH,
  MAX_LINEAGE_TOKENS,
  delegationChain,
  refreshChangesGrantee,
  revocationParams,
  sessionOf,
  stateAt,
  type EffectiveState,
  type Grant,
  type LineageRevocation,
  type Renewal,
  type RevokedVia,
  type Session,
  type TokenLineage,
  type TokenStatus,
} from './lineage.js';
export {
  GRANT_EVENTS,
  GRANT_EVENTS_SQL,
  LINK_EVENTS,
  effectiveExpirySql,
  grantsSql,
  lineageRevocationsSql,
  renewalsSql,
} from './sql.js';
