import { type Attributes, fingerprint } from '@intentwatch/core';
import { type MappedEvent, type Mapping, type SourceFormat, type SourceRecord, at, isObject, text, texts } from './types.js';

/**
 * HashiCorp Vault audit device entries (file, socket or syslog device, `format=json`: one JSON
 * object per line).
 *
 * Mapped from Vault's own documentation and source:
 * - Entry, `auth`, `request` and `response` objects (`type` `request` | `response`, `time`,
 *   `error`, `request.id` shared by both entries of one API call, `request.path`,
 *   `request.operation`, `request.client_token_accessor`, `auth.accessor`, `auth.policies`,
 *   `auth.metadata`, `auth.entity_id`, `auth.policy_results.granting_policies`, and
 *   `response.auth` when the call resulted in a token, with `token_ttl` in seconds and
 *   `token_issue_time`): https://developer.hashicorp.com/vault/docs/audit/schema (Vault's
 *   audit/types.go; the response's auth is built in audit/entry_formatter.go with
 *   `TokenTTL = resp.Auth.TTL`).
 * - Strings are HMAC-SHA256'd with the device's salt (`hmac-sha256:…`), accessors too unless
 *   `hmac_accessor=false`; `log_raw=true` writes them in clear:
 *   https://developer.hashicorp.com/vault/docs/audit#sensitive-information and
 *   https://developer.hashicorp.com/vault/docs/audit#common-configuration-options.
 * - Token endpoints (`auth/token/create*`, `renew`, `renew-self`, `revoke-self`,
 *   `revoke-accessor`): https://developer.hashicorp.com/vault/api-docs/auth/token.
 *
 * The token is named `vault:` + its accessor as the audit log writes it (HMAC'd with the same
 * salt in the creation's response and in every later request, so they join). A token without an
 * accessor (a batch token) is named by the fingerprint of its client token when the device logs
 * it raw; an HMAC'd one names nothing. No client token is ever kept: only its fingerprint.
 * Only response entries are read (the request entry of the same call says nothing more), so each
 * API call counts once. A token's policies are its scopes; a request's granting policies the
 * scope it exercised.
 */
export const vaultAudit: SourceFormat = {
  id: 'vault-audit',
  recognise: (r) => (r.type === 'request' || r.type === 'response') && isObject(r.request) && typeof r.time === 'string',
  map,
};

const HMAC_PREFIX = 'hmac-sha256:';
const RENEW_PATHS = new Set(['auth/token/renew', 'auth/token/renew-self', 'auth/token/renew-accessor']);
const REVOKE_BY_TOKEN = new Set(['auth/token/revoke', 'auth/token/revoke-orphan']);

function map(r: SourceRecord): Mapping {
  const requestId = text(r, 'request', 'id');
  const timeMs = Date.parse(text(r, 'time'));
  if (!requestId || !Number.isFinite(timeMs)) return { error: 'a Vault audit entry needs request.id and an ISO 8601 time' };
  if (r.type !== 'response') return { skip: 'a request entry (its response entry is read)' };
  const path = text(r, 'request', 'path').replace(/^\/+/, '');
  const failed = text(r, 'error') !== '';
  const caller = tokenId(text(r, 'auth', 'accessor') || text(r, 'request', 'client_token_accessor'), text(r, 'request', 'client_token'));
  const events: MappedEvent[] = [];

  // The call itself is a use of the token that made it, refused or not (a refusal of a known
  // token is evidence too). Revoking oneself is the end of the token, not a use of it.
  if (caller && path !== 'auth/token/revoke-self') events.push(use(r, caller, timeMs, path, failed));

  if (!failed) {
    const lifecycle = lifecycleEvent(r, timeMs, path, caller);
    if (typeof lifecycle === 'string') {
      if (events.length === 0) return { skip: lifecycle };
    } else if (lifecycle) events.push(lifecycle);
  }
  if (events.length === 0) return { skip: 'no token issued, renewed, revoked or used' };
  return { events, id: requestId };
}

/**
 * `vault:` + the accessor as written; for a token without one, the fingerprint of a client
 * token logged in clear (never the token itself); '' when neither names the token.
 */
function tokenId(accessor: string, clientToken: string): string {
  if (accessor) return `vault:${accessor}`;
  if (clientToken && !clientToken.startsWith(HMAC_PREFIX)) return fingerprint(clientToken);
  return '';
}

function agentOf(auth: unknown): string {
  return (
    text(auth, 'metadata', 'role_name') ||
    text(auth, 'metadata', 'service_account_name') ||
    text(auth, 'metadata', 'username') ||
    text(auth, 'display_name')
  );
}

function use(r: SourceRecord, id: string, timeMs: number, path: string, failed: boolean): MappedEvent {
  const auth = at(r, 'auth');
  const agent = agentOf(auth);
  const granting = (
    Array.isArray(at(auth, 'policy_results', 'granting_policies')) ? (at(auth, 'policy_results', 'granting_policies') as unknown[]) : []
  )
    .map((p) => text(p, 'name'))
    .filter(Boolean);
  const operation = text(r, 'request', 'operation');
  const attrs: Attributes = {
    'token.id': id,
    'token.resource': path,
    'vault.request_id': text(r, 'request', 'id'),
    'vault.operation': operation,
  };
  if (agent) attrs['gen_ai.agent.id'] = agent;
  if (text(auth, 'entity_id')) attrs['workload.id'] = text(auth, 'entity_id');
  if (granting.length) attrs['token.scope'] = [...new Set(granting)];
  if (failed) attrs['vault.error'] = text(r, 'error').slice(0, 200);
  return { timeMs, name: `${operation} ${path}`.trim(), serviceName: agent || 'vault-client', attrs };
}

/** The lifecycle event of a successful call, null when it has none, or a skip reason. */
function lifecycleEvent(r: SourceRecord, timeMs: number, path: string, caller: string): MappedEvent | null | string {
  const created = at(r, 'response', 'auth');
  const createdId = isObject(created) ? tokenId(text(created, 'accessor'), text(created, 'client_token')) : '';
  if (RENEW_PATHS.has(path)) {
    const renewed =
      createdId ||
      (path === 'auth/token/renew-self'
        ? caller
        : path === 'auth/token/renew-accessor'
          ? tokenId(text(r, 'request', 'data', 'accessor'), '')
          : '');
    if (!renewed) return 'a renewal whose response names no accessor';
    const attrs: Attributes = { 'token.event': 'renewed', 'token.id': renewed, 'vault.request_id': text(r, 'request', 'id') };
    const ttl = Number(at(created, 'token_ttl'));
    if (Number.isFinite(ttl) && ttl > 0) attrs['token.expires_at'] = new Date(timeMs + ttl * 1000).toISOString();
    return { timeMs, name: path, serviceName: 'vault', attrs };
  }
  if (path === 'auth/token/revoke-self' || path === 'auth/token/revoke-accessor') {
    const revoked = path === 'auth/token/revoke-self' ? caller : tokenId(text(r, 'request', 'data', 'accessor'), '');
    if (!revoked) return 'a revocation that names no accessor';
    return {
      timeMs,
      name: path,
      serviceName: 'vault',
      attrs: { 'token.event': 'revoked', 'token.id': revoked, 'token.revoked_reason': path, 'vault.request_id': text(r, 'request', 'id') },
    };
  }
  // Vault logs only the HMAC of a token revoked by its value, which no stateless reading can
  // turn into its accessor.
  if (REVOKE_BY_TOKEN.has(path)) return 'a revocation by token value (only its HMAC is logged; revoke-accessor is readable)';
  if (!createdId) return null;
  const attrs: Attributes = {
    'token.event': 'issued',
    'token.id': createdId,
    'vault.request_id': text(r, 'request', 'id'),
    'vault.path': path,
  };
  const agent = agentOf(created);
  if (agent) attrs['gen_ai.agent.id'] = agent;
  if (text(created, 'entity_id')) attrs['workload.id'] = text(created, 'entity_id');
  const policies = texts(created, 'policies');
  const scopes = policies.length ? policies : texts(created, 'token_policies');
  if (scopes.length) attrs['token.scopes'] = scopes;
  const ttl = Number(at(created, 'token_ttl'));
  const issuedMs = Date.parse(text(created, 'token_issue_time'));
  if (Number.isFinite(ttl) && ttl > 0)
    attrs['token.expires_at'] = new Date((Number.isFinite(issuedMs) ? issuedMs : timeMs) + ttl * 1000).toISOString();
  if (caller) attrs['token.created_by'] = caller;
  return { timeMs, name: path, serviceName: 'vault', attrs };
}
