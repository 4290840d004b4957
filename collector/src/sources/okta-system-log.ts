import type { Attributes } from '@intentwatch/core';
import { type MappedEvent, type Mapping, type SourceFormat, type SourceRecord, isObject, text } from './types.js';

/**
 * Okta System Log events (`LogEvent`, as `GET /api/v1/logs` returns them, or as a log streaming
 * or event hook delivers them).
 *
 * Mapped from Okta's own documentation:
 * - The LogEvent object (`uuid`, `published`, `eventType`, `actor`, `client`, `outcome.result`,
 *   `target[]` with `id`, `type`, `alternateId`, `displayName`, `detailEntry`,
 *   `debugContext.debugData`, `authenticationContext.externalSessionId`):
 *   https://developer.okta.com/docs/reference/api/system-log/#logevent-object
 * - The authorization server's token events (`app.oauth2.as.token.grant.access_token`,
 *   `app.oauth2.as.token.grant.refresh_token`, `app.oauth2.as.token.revoke`; custom
 *   authorization servers `app.oauth2.as.*`, the org server `app.oauth2.*`):
 *   https://developer.okta.com/docs/reference/api/event-types/ ; the granted scopes and the grant
 *   type are in `debugContext.debugData` (`grantedScopes`, space-separated, `grantType`); the
 *   token is the target whose `type` is `access_token` / `refresh_token` and whose `id` is its
 *   `jti`, with its expiry in `detailEntry.expires`; the authorization server is the
 *   `AuthorizationServer` target, its audience in `detailEntry.audience`.
 *
 * The token is named by its `jti`, what the agent SDK's fingerprint of an Okta access token is.
 * The agent is the OAuth client (`client.id`, else the actor when it is an app), the workload the
 * subject (`detailEntry.subject`, else the actor). Only successful events describe a token.
 */
export const oktaSystemLog: SourceFormat = {
  id: 'okta-system-log',
  recognise: (r) => typeof r.eventType === 'string' && typeof r.published === 'string' && typeof r.uuid === 'string',
  map,
};

const GRANT = /^app\.oauth2\.(as\.)?token\.grant\.(access_token|refresh_token)$/;
const REVOKE = /^app\.oauth2\.(as\.)?token\.revoke$/;
const TOKEN_TYPES = new Set(['access_token', 'refresh_token']);

function targets(r: SourceRecord): Record<string, unknown>[] {
  return (Array.isArray(r.target) ? r.target : []).filter(isObject);
}

function map(r: SourceRecord): Mapping {
  const uuid = text(r, 'uuid');
  const eventType = text(r, 'eventType');
  const timeMs = Date.parse(text(r, 'published'));
  if (!uuid || !eventType || !Number.isFinite(timeMs))
    return { error: 'an Okta System Log event needs uuid, eventType and an ISO 8601 published' };
  const grant = GRANT.test(eventType);
  if (!grant && !REVOKE.test(eventType)) return { skip: 'not a token grant or revocation' };
  if (text(r, 'outcome', 'result') && text(r, 'outcome', 'result') !== 'SUCCESS') return { skip: 'a failed event (outcome not SUCCESS)' };
  const tokens = targets(r).filter((t) => TOKEN_TYPES.has(text(t, 'type')) && text(t, 'id'));
  if (tokens.length === 0) return { error: `${eventType} ${uuid}: no access_token or refresh_token target names the token` };
  const server = targets(r).find((t) => text(t, 'type') === 'AuthorizationServer');
  const actorIsApp = /App|Client/.test(text(r, 'actor', 'type'));
  const agent = text(r, 'client', 'id') || (actorIsApp ? text(r, 'actor', 'id') : '');
  const events: MappedEvent[] = tokens.map((t) => {
    const attrs: Attributes = { 'token.id': text(t, 'id'), 'okta.event_type': eventType, 'okta.uuid': uuid };
    if (grant) {
      attrs['token.event'] = 'issued';
      if (agent) attrs['gen_ai.agent.id'] = agent;
      const subject = text(t, 'detailEntry', 'subject') || text(r, 'actor', 'id');
      if (subject) attrs['workload.id'] = subject;
      const scopes = [...new Set(text(r, 'debugContext', 'debugData', 'grantedScopes').split(' ').filter(Boolean))];
      if (scopes.length) attrs['token.scopes'] = scopes;
      const expires = Date.parse(text(t, 'detailEntry', 'expires'));
      if (Number.isFinite(expires)) attrs['token.expires_at'] = new Date(expires).toISOString();
      const audience = text(server, 'detailEntry', 'audience');
      if (audience) attrs['token.audience'] = [audience];
      const grantType = text(r, 'debugContext', 'debugData', 'grantType');
      if (grantType) attrs['okta.grant_type'] = grantType;
    } else {
      attrs['token.event'] = 'revoked';
      attrs['token.revoked_reason'] = eventType;
    }
    return { timeMs, name: eventType, serviceName: 'okta', attrs };
  });
  return { events, id: uuid };
}
