import { type Attributes, ROOT_CONTEXT, SpanKind, type Tracer } from '@opentelemetry/api';
import { ATTR, type TimeInput, rfc3339, toMillis } from './attributes.js';
import { tokenFingerprint } from './secrets.js';

/** Names a token: the raw credential (only its fingerprint is emitted) or its id. */
export interface TokenRef {
  token?: string;
  tokenId?: string;
}

/** What a token was issued for (docs/conventions.md §1.2). */
export interface Grant extends TokenRef {
  /** The grantee (`gen_ai.agent.id`): the agent the token is for, not the broker. */
  agentId: string;
  taskId?: string;
  workloadId?: string;
  /** Target services the token may be presented to. */
  audience: readonly string[];
  scopes: readonly string[];
  /** Glob patterns of resources (`*` within a path segment, `**` across segments). */
  resources?: readonly string[];
  expiresAt?: TimeInput;
  /** How long the whole refresh chain may live, in seconds. */
  maxSessionS?: number;
  /** The environment the token is for (`deployment.environment.name`). */
  environment?: string;
  /** When the event happened; default now. */
  time?: TimeInput;
}

/** A grant derived from another token: a refresh (same session) or an exchange (new hop). */
export interface DerivedGrant extends Grant {
  /** The id of the token this one replaces or was derived from. */
  parentId: string;
}

/** A renewal (Vault-style): the same token lives on until `expiresAt`; counts toward its session's `token.max_session_s`. */
export interface Renewal extends TokenRef {
  /** The token's new expiry (required: a renewal without one says nothing). */
  expiresAt: TimeInput;
  /** When the token was renewed; default now. */
  time?: TimeInput;
}

export interface Revocation extends TokenRef {
  reason?: string;
  time?: TimeInput;
}

function idOf(ref: TokenRef): string {
  const id = ref.tokenId ?? (ref.token ? tokenFingerprint(ref.token) : undefined);
  if (!id) throw new TypeError('a token event needs token or tokenId');
  return id;
}

/**
 * Emits the token lifecycle spans of docs/conventions.md §1.2 (`token.event` = issued, refreshed,
 * exchanged, renewed, revoked) for a token broker written in Node. Use a tracer whose resource is the
 * broker's own service; the grantee is named on each event. Each method returns the token id.
 * Events are root spans: they never pick up the task context of the code that emits them.
 *
 * @example
 * const events = new TokenEvents(trace.getTracer('broker'));
 * events.issued({ token, agentId: 'triage-bot', taskId: 'T-9', audience: ['github'], scopes: ['issues:read'] });
 * events.renewed({ token, expiresAt: Date.now() + 3_600_000 });
 */
export class TokenEvents {
  readonly #tracer: Tracer;

  constructor(tracer: Tracer) {
    this.#tracer = tracer;
  }

  issued(grant: Grant): string {
    return this.#emit('issued', idOf(grant), grantAttributes(grant), grant.time);
  }

  refreshed(grant: DerivedGrant): string {
    return this.#emit('refreshed', idOf(grant), { ...grantAttributes(grant), [ATTR.tokenParentId]: grant.parentId }, grant.time);
  }

  exchanged(grant: DerivedGrant): string {
    return this.#emit('exchanged', idOf(grant), { ...grantAttributes(grant), [ATTR.tokenParentId]: grant.parentId }, grant.time);
  }

  /** The same token's life extended to `expiresAt` (a lease renewed, not a new token: no new id, no parent). */
  renewed(renewal: Renewal): string {
    if (!Number.isFinite(toMillis(renewal.expiresAt))) throw new TypeError("a renewal needs expiresAt: the token's new expiry");
    return this.#emit('renewed', idOf(renewal), { [ATTR.tokenExpiresAt]: rfc3339(renewal.expiresAt) }, renewal.time);
  }

  revoked(revocation: Revocation): string {
    return this.#emit(
      'revoked',
      idOf(revocation),
      revocation.reason ? { [ATTR.tokenRevokedReason]: revocation.reason } : {},
      revocation.time,
    );
  }

  #emit(event: string, tokenId: string, attrs: Attributes, time: TimeInput | undefined): string {
    const at = toMillis(time ?? Date.now());
    const span = this.#tracer.startSpan(
      `token ${event}`,
      { kind: SpanKind.INTERNAL, startTime: at, attributes: { [ATTR.tokenEvent]: event, [ATTR.tokenId]: tokenId, ...attrs } },
      ROOT_CONTEXT,
    );
    span.end(at);
    return tokenId;
  }
}

function grantAttributes(grant: Grant): Attributes {
  const attrs: Attributes = {
    [ATTR.agentId]: grant.agentId,
    [ATTR.tokenAudience]: [...grant.audience],
    [ATTR.tokenScopes]: [...grant.scopes],
  };
  if (grant.taskId) attrs[ATTR.taskId] = grant.taskId;
  if (grant.workloadId) attrs[ATTR.workloadId] = grant.workloadId;
  if (grant.resources) attrs[ATTR.tokenResources] = [...grant.resources];
  if (grant.expiresAt !== undefined) attrs[ATTR.tokenExpiresAt] = rfc3339(grant.expiresAt);
  if (grant.maxSessionS !== undefined) attrs[ATTR.tokenMaxSession] = grant.maxSessionS;
  if (grant.environment) attrs[ATTR.environment] = grant.environment;
  return attrs;
}
