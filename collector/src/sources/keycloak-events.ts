import type { Attributes } from '@intentwatch/core';
import { type MappedEvent, type Mapping, type SourceFormat, type SourceRecord, isObject, text } from './types.js';

/**
 * Keycloak user events (`EventRepresentation`, as the Admin REST API's
 * `GET /admin/realms/{realm}/events` returns them, or as an event listener writes them, one JSON
 * object per line; the `jboss-logging` listener's lines too, once parsed into a map: details at
 * the top level, values possibly still in double quotes, `time` the log line's RFC 3339 time).
 *
 * Mapped from Keycloak's own documentation and source:
 * - The event: `time` (epoch ms), `type`, `realmId`, `clientId`, `userId`, `sessionId`, `error`,
 *   `details`: https://www.keycloak.org/docs-api/latest/rest-api/index.html#EventRepresentation and
 *   https://www.keycloak.org/docs/latest/server_admin/index.html#event-types (event types,
 *   `*_ERROR` for failures).
 * - Detail keys (org.keycloak.events.Details): `token_id` (the access token's `jti`),
 *   `refresh_token_id`, `updated_refresh_token_id` (REFRESH_TOKEN: the presented refresh token
 *   and its replacement), `scope` (the token response's scope, set by TokenManager for every
 *   token response), `audience`, `subject_token_client_id` (TOKEN_EXCHANGE), `revoked_client`.
 *
 * Keycloak logs no id of an exchange's subject token, only its session and client; so the grant
 * every token of a client session descends from is named by that session:
 * `keycloak:<realm>/<sessionId>/<clientId>` is `issued` when the session's first tokens are
 * (CODE_TO_TOKEN, CLIENT_LOGIN, LOGIN with tokens), each access and refresh token (its `jti`,
 * what the agent SDK's fingerprint of it is) is `refreshed` from it, a TOKEN_EXCHANGE's token is
 * `exchanged` from the subject client's session grant (its scope and audience compared with it),
 * REVOKE_GRANT revokes the client's session grant (with it every token of the session and every
 * token exchanged from it), LOGOUT the logging-out client's. The user session is the task
 * (`keycloak:<realm>/<sessionId>`): LOGOUT ends it, for every client in it. A session grant is
 * read as its first issuance says (detectors take a token's earliest grant): a client that later
 * obtains more scope in the same session (a new consent) has its new tokens compared with the
 * first scope.
 */
export const keycloakEvents: SourceFormat = {
  id: 'keycloak-events',
  recognise: (r) =>
    typeof r.type === 'string' && typeof r.realmId === 'string' && (typeof r.time === 'number' || typeof r.time === 'string'),
  map,
};

const ISSUING = new Set(['LOGIN', 'CODE_TO_TOKEN', 'CLIENT_LOGIN']);

/** A string field; a value still in the listener's double quotes (`type="LOGIN"`) is read without them. */
function field(v: unknown, key: string): string {
  const s = text(v, key);
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

function detail(r: SourceRecord, key: string): string {
  return isObject(r.details) ? field(r.details, key) : field(r, key);
}

/** Epoch ms from `time`: a number (EventRepresentation), or an RFC 3339 string (the log line's time). */
function timeOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return Number.NaN;
  return /^\d+$/.test(v) ? Number(v) : Date.parse(v);
}

function words(value: string): string[] {
  return [...new Set(value.split(' ').filter(Boolean))];
}

function map(r: SourceRecord): Mapping {
  const type = field(r, 'type');
  const realm = field(r, 'realmId');
  const timeMs = timeOf(r.time);
  if (!type || !realm || !Number.isFinite(timeMs))
    return { error: 'a Keycloak event needs type, realmId and time (epoch milliseconds or RFC 3339)' };
  if (field(r, 'error') || type.endsWith('_ERROR')) return { skip: 'a failed event (error)' };
  const session = field(r, 'sessionId');
  const client = field(r, 'clientId');
  const tokenId = detail(r, 'token_id');
  const id = text(r, 'id') || `${realm}:${type}:${timeMs}:${session}:${tokenId}`;
  const grantOf = (c: string) => (session && c ? `keycloak:${realm}/${session}/${c}` : '');
  const task = session ? `keycloak:${realm}/${session}` : '';
  const base = (): Attributes => {
    const a: Attributes = { 'keycloak.event_type': type, 'keycloak.realm': realm };
    if (client) a['gen_ai.agent.id'] = client;
    if (field(r, 'userId')) a['workload.id'] = field(r, 'userId');
    if (task) a['task.id'] = task;
    return a;
  };
  const scopes = words(detail(r, 'scope'));
  const audience = words(detail(r, 'audience'));
  const grantAttrs = (event: string, token: string, parent: string): Attributes => {
    const a: Attributes = { ...base(), 'token.event': event, 'token.id': token };
    if (parent) a['token.parent_id'] = parent;
    if (scopes.length) a['token.scopes'] = scopes;
    if (audience.length) a['token.audience'] = audience;
    return a;
  };
  const event = (attrs: Attributes): MappedEvent => ({ timeMs, name: type, serviceName: 'keycloak', attrs });
  const events: MappedEvent[] = [];
  const refreshIds = [detail(r, 'refresh_token_id'), detail(r, 'updated_refresh_token_id')].filter(Boolean);

  if (ISSUING.has(type) || type === 'REFRESH_TOKEN') {
    if (!tokenId && refreshIds.length === 0) return { skip: 'no token in this event' };
    const grant = grantOf(client);
    if (ISSUING.has(type) && grant) events.push(event(grantAttrs('issued', grant, '')));
    // Without a session (a client-credentials token with no session), a token stands alone.
    const own = (token: string) => (grant ? grantAttrs('refreshed', token, grant) : grantAttrs('issued', token, ''));
    if (tokenId) events.push(event(own(tokenId)));
    // REFRESH_TOKEN's refresh_token_id is the presented one; only its replacement is new.
    const newRefresh = type === 'REFRESH_TOKEN' ? detail(r, 'updated_refresh_token_id') : detail(r, 'refresh_token_id');
    if (newRefresh) events.push(event(own(newRefresh)));
  } else if (type === 'TOKEN_EXCHANGE') {
    if (!tokenId) return { error: `TOKEN_EXCHANGE ${id}: no token_id in details` };
    const parent = grantOf(detail(r, 'subject_token_client_id'));
    events.push(event(grantAttrs(parent ? 'exchanged' : 'issued', tokenId, parent)));
    const refresh = detail(r, 'refresh_token_id');
    if (refresh) events.push(event(grantAttrs(parent ? 'exchanged' : 'issued', refresh, parent)));
  } else if (type === 'REVOKE_GRANT' || type === 'LOGOUT') {
    const revokedClient = type === 'REVOKE_GRANT' ? detail(r, 'revoked_client') || client : client;
    const grant = grantOf(revokedClient);
    const revoked = grant || tokenId;
    if (revoked)
      events.push(event({ 'token.event': 'revoked', 'token.id': revoked, 'token.revoked_reason': type, 'keycloak.realm': realm }));
    if (type === 'LOGOUT' && task) events.push(event({ 'task.event': 'completed', 'task.id': task, 'keycloak.realm': realm }));
    if (events.length === 0) return { skip: 'a revocation that names no session or token' };
  } else {
    return { skip: 'not a token event' };
  }
  return { events, id };
}
