import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { awsTime, cloudtrail, sessionPolicy } from './cloudtrail.js';
import { keycloakEvents } from './keycloak-events.js';
import { kubernetesAudit } from './kubernetes-audit.js';
import { oktaSystemLog } from './okta-system-log.js';
import { recogniseFormat } from './registry.js';
import type { MappedEvent, Mapping } from './types.js';
import { vaultAudit } from './vault-audit.js';

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/audit-logs/${name}`, import.meta.url), 'utf8');
const k8s = () =>
  fixture('kubernetes-audit.ndjson')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const trail = () => (JSON.parse(fixture('cloudtrail.json')) as { Records: Record<string, unknown>[] }).Records;
const vault = () =>
  fixture('vault-audit.ndjson')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const keycloak = () => JSON.parse(fixture('keycloak-events.json')) as Record<string, unknown>[];
const okta = () => JSON.parse(fixture('okta-system-log.json')) as Record<string, unknown>[];

/** The events of a mapping (failing the test when it made none). */
function eventsOf(m: Mapping): MappedEvent[] {
  if (!('events' in m)) throw new Error(`expected events, got ${JSON.stringify(m)}`);
  return m.events;
}
const lifecycle = (m: Mapping) =>
  eventsOf(m)
    .filter((e) => e.attrs['token.event'] !== undefined)
    .map((e) => e.attrs);
const VAULT_TOKEN = 'vault:hmac-sha256:894f9936b7d0e5a803bfe420a3d1f6f7c3f85208edcf222c2653406849e377e6';
const SESSION_GRANT = 'keycloak:agents/f1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d/triage-agent';

describe('awsTime', () => {
  it('reads CloudTrail’s expiration format as UTC, 12 AM and 12 PM included', () => {
    expect(new Date(awsTime('Dec 2, 2026, 10:15:00 AM') as number).toISOString()).toBe('2026-12-02T10:15:00.000Z');
    expect(new Date(awsTime('Jan 1, 2027, 12:05:09 AM') as number).toISOString()).toBe('2027-01-01T00:05:09.000Z');
    expect(new Date(awsTime('Jul 14, 2026, 12:00:00 PM') as number).toISOString()).toBe('2026-07-14T12:00:00.000Z');
    expect(new Date(awsTime('Mar 3, 2026, 1:30:00 PM') as number).toISOString()).toBe('2026-03-03T13:30:00.000Z');
  });

  it('reads RFC 3339 too, and says absent (null) apart from unreadable (undefined)', () => {
    expect(awsTime('2026-12-02T10:15:00Z')).toBe(Date.UTC(2026, 11, 2, 10, 15));
    expect(awsTime('')).toBeNull();
    expect(awsTime('Dec 2, 2026, 13:15:00 PM')).toBeUndefined();
    expect(awsTime('tomorrow')).toBeUndefined();
  });
});

describe('sessionPolicy', () => {
  it('turns allowed actions into scopes, their services into the audience and IAM wildcards into globs across segments', () => {
    const policy = JSON.stringify({
      Statement: [
        { Effect: 'Allow', Action: ['s3:GetObject', 'dynamodb:Query'], Resource: ['arn:aws:s3:::b/*', 'arn:aws:dynamodb:*:1:table/t'] },
        { Effect: 'Deny', Action: 's3:DeleteObject', Resource: '*' },
      ],
    });
    expect(sessionPolicy(policy)).toEqual({
      scopes: ['s3:GetObject', 'dynamodb:Query'],
      resources: ['arn:aws:s3:::b/**', 'arn:aws:dynamodb:**:1:table/t'],
      audience: ['s3', 'dynamodb'],
    });
  });

  it('leaves scopes unrestricted when an action is a wildcard, and resources when one is "*"', () => {
    expect(sessionPolicy(JSON.stringify({ Statement: { Effect: 'Allow', Action: 's3:Get*', Resource: '*' } }))).toEqual({
      scopes: [],
      resources: [],
      audience: ['s3'],
    });
    expect(sessionPolicy(JSON.stringify({ Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }))).toMatchObject({ audience: [] });
  });

  it('says why a policy cannot be read', () => {
    expect(sessionPolicy('{not json')).toBe('requestParameters.policy is not JSON');
    expect(sessionPolicy('{}')).toBe('requestParameters.policy has no Statement');
  });
});

describe('recogniseFormat', () => {
  it('tells Kubernetes audit events and CloudTrail records apart by shape, and knows nothing else', () => {
    expect(k8s().map((r) => recogniseFormat(r)?.id)).toEqual(Array(5).fill('kubernetes-audit'));
    expect(trail().map((r) => recogniseFormat(r)?.id)).toEqual(Array(4).fill('cloudtrail'));
    expect(recogniseFormat({ hello: 'world' })).toBeUndefined();
  });

  it('tells Vault audit entries, Keycloak events and Okta System Log events apart by shape', () => {
    expect(new Set(vault().map((r) => recogniseFormat(r)?.id))).toEqual(new Set(['vault-audit']));
    expect(new Set(keycloak().map((r) => recogniseFormat(r)?.id))).toEqual(new Set(['keycloak-events']));
    expect(new Set(okta().map((r) => recogniseFormat(r)?.id))).toEqual(new Set(['okta-system-log']));
  });
});

describe('kubernetes-audit mapping', () => {
  it('issues nothing for a TokenRequest the API server refused', () => {
    const [tokenRequest] = k8s() as [Record<string, unknown>];
    tokenRequest.responseStatus = { code: 403, reason: 'Forbidden' };
    expect(kubernetesAudit.map(tokenRequest)).toEqual({ skip: 'no service-account token issued, used or ended' });
  });

  it('takes the expiry from expirationSeconds when the response has no expirationTimestamp', () => {
    const [tokenRequest] = k8s() as [{ responseObject: { status: Record<string, unknown> } }];
    delete tokenRequest.responseObject.status.expirationTimestamp;
    const mapped = kubernetesAudit.map(tokenRequest as unknown as Record<string, unknown>);
    expect('events' in mapped && mapped.events[0]?.attrs['token.expires_at']).toBe('2026-12-02T11:55:07.004Z');
  });

  it('names the token by its JWT’s jti when an older API server wrote no credential-id annotation', () => {
    const [tokenRequest] = k8s() as [{ annotations: Record<string, string> }];
    delete tokenRequest.annotations['authentication.kubernetes.io/issued-credential-id'];
    const mapped = kubernetesAudit.map(tokenRequest as unknown as Record<string, unknown>);
    expect('events' in mapped && mapped.events[0]?.attrs['token.id']).toBe('7f3c2a9e-4b1d-4e5a-9c8f-2d6e1b0a5c47');
  });
});

describe('cloudtrail mapping', () => {
  it('makes no use of an event signed with a long-term key, and reports a record without eventID as malformed', () => {
    const ec2 = trail()[3] as Record<string, unknown>;
    expect(cloudtrail.map(ec2)).toEqual({ skip: 'no temporary credential issued or used' });
    const { eventID: _id, ...noId } = ec2;
    expect(cloudtrail.map(noId)).toEqual({ error: 'a CloudTrail record needs eventID and an RFC 3339 eventTime' });
  });

  it('issues nothing for an AssumeRole that failed', () => {
    const assumeRole = { ...(trail()[0] as Record<string, unknown>), errorCode: 'AccessDenied', responseElements: null };
    expect(cloudtrail.map(assumeRole)).toEqual({ skip: 'no temporary credential issued or used' });
  });
});

describe('vault-audit mapping', () => {
  const [request, login, read, renew, revoke, readAfter, rawBatch] = vault() as Record<string, unknown>[] as [
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
  ];

  it('reads each call once, from its response entry', () => {
    expect(vaultAudit.map(request)).toEqual({ skip: 'a request entry (its response entry is read)' });
  });

  it('issues a login’s token as vault:<accessor as written>, its policies as scopes and its TTL as expiry', () => {
    expect(lifecycle(vaultAudit.map(login))).toEqual([
      expect.objectContaining({
        'token.event': 'issued',
        'token.id': VAULT_TOKEN,
        'gen_ai.agent.id': 'triage-bot',
        'workload.id': '5d1c7a2f-4e60-0b6a-2c47-9e4f1ab8e95d',
        'token.scopes': ['default', 'kv-triage-read'],
        'token.expires_at': '2026-12-02T11:00:00.000Z',
      }),
    ]);
  });

  it('records a request made with the token as a use of the same token, its granting policy as the scope exercised', () => {
    expect(eventsOf(vaultAudit.map(read))).toEqual([
      expect.objectContaining({
        attrs: expect.objectContaining({
          'token.id': VAULT_TOKEN,
          'token.resource': 'secret/data/triage/rules',
          'token.scope': ['kv-triage-read'],
        }),
      }),
    ]);
    expect(eventsOf(vaultAudit.map(readAfter))[0]?.attrs['token.id']).toBe(VAULT_TOKEN);
  });

  it('makes renew-self a renewal of the same token with its new expiry', () => {
    expect(lifecycle(vaultAudit.map(renew))).toEqual([
      expect.objectContaining({ 'token.event': 'renewed', 'token.id': VAULT_TOKEN, 'token.expires_at': '2026-12-02T11:30:00.007Z' }),
    ]);
  });

  it('revokes the accessor named by revoke-accessor, and counts the call as a use of the revoking token', () => {
    const events = eventsOf(vaultAudit.map(revoke));
    expect(lifecycle(vaultAudit.map(revoke))).toEqual([expect.objectContaining({ 'token.event': 'revoked', 'token.id': VAULT_TOKEN })]);
    expect(events.find((e) => e.attrs['token.event'] === undefined)?.attrs['token.id']).toMatch(/^vault:hmac-sha256:9f90/);
  });

  it('revokes the caller’s own token on revoke-self, without a use of it', () => {
    const self = structuredClone(renew) as { request: Record<string, unknown>; response: Record<string, unknown> };
    self.request.path = 'auth/token/revoke-self';
    self.response = {};
    expect(eventsOf(vaultAudit.map(self as unknown as Record<string, unknown>)).map((e) => e.attrs)).toEqual([
      expect.objectContaining({ 'token.event': 'revoked', 'token.id': VAULT_TOKEN }),
    ]);
  });

  it('says why a revocation by token value names nothing (Vault logs only its HMAC)', () => {
    const byValue = structuredClone(revoke) as { request: Record<string, unknown>; auth?: unknown };
    byValue.request.path = 'auth/token/revoke';
    byValue.request.data = { token: 'hmac-sha256:00aa' };
    delete byValue.auth;
    delete byValue.request.client_token_accessor;
    expect(vaultAudit.map(byValue as unknown as Record<string, unknown>)).toEqual({
      skip: 'a revocation by token value (only its HMAC is logged; revoke-accessor is readable)',
    });
  });

  it('names a batch token logged in clear (log_raw) by its fingerprint, never by the token', () => {
    const [use] = eventsOf(vaultAudit.map(rawBatch));
    expect(use?.attrs['token.id']).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(JSON.stringify(use)).not.toContain('hvb.');
  });

  it('issues nothing for a failed login, and reports an entry without request.id as malformed', () => {
    expect(vaultAudit.map({ ...login, error: 'invalid role or secret ID' })).toEqual({ skip: 'no token issued, renewed, revoked or used' });
    expect(vaultAudit.map({ ...login, request: {} })).toEqual({ error: 'a Vault audit entry needs request.id and an ISO 8601 time' });
  });
});

describe('keycloak-events mapping', () => {
  const [codeToToken, refresh, narrowing, widening, failed, logout] = keycloak() as [
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
  ];

  it('issues the client session’s grant on CODE_TO_TOKEN and refreshes each token (its jti) from it, scope as scopes', () => {
    expect(lifecycle(keycloakEvents.map(codeToToken))).toEqual([
      expect.objectContaining({
        'token.event': 'issued',
        'token.id': SESSION_GRANT,
        'token.scopes': ['openid', 'tickets:read', 'tickets:comment'],
      }),
      expect.objectContaining({
        'token.event': 'refreshed',
        'token.id': '6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d91',
        'token.parent_id': SESSION_GRANT,
      }),
      expect.objectContaining({
        'token.event': 'refreshed',
        'token.id': '7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e01',
        'token.parent_id': SESSION_GRANT,
      }),
    ]);
  });

  it('refreshes the new access token and the rotated refresh token on REFRESH_TOKEN, not the presented one', () => {
    expect(lifecycle(keycloakEvents.map(refresh)).map((a) => [a['token.event'], a['token.id']])).toEqual([
      ['refreshed', '8d9e0f1a-2b3c-4d4e-9f5a-6b7c8d9e0f12'],
      ['refreshed', '9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a23'],
    ]);
  });

  it('exchanges TOKEN_EXCHANGE’s token from the subject client’s session grant, with its scope and audience, for the requesting client', () => {
    expect(lifecycle(keycloakEvents.map(narrowing))).toEqual([
      expect.objectContaining({
        'token.event': 'exchanged',
        'token.id': '0f1a2b3c-4d5e-4f6a-9b7c-8d9e0f1a2b34',
        'token.parent_id': SESSION_GRANT,
        'gen_ai.agent.id': 'search-agent',
        'token.scopes': ['tickets:read'],
        'token.audience': ['ticket-search'],
      }),
    ]);
    expect(lifecycle(keycloakEvents.map(widening))[0]?.['token.scopes']).toEqual(['tickets:read', 'billing:refund']);
  });

  it('revokes the client’s session grant and ends the user session’s task on LOGOUT; skips failed events', () => {
    expect(eventsOf(keycloakEvents.map(logout)).map((e) => e.attrs)).toEqual([
      expect.objectContaining({ 'token.event': 'revoked', 'token.id': SESSION_GRANT }),
      expect.objectContaining({ 'task.event': 'completed', 'task.id': 'keycloak:agents/f1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d' }),
    ]);
    expect(keycloakEvents.map(failed)).toEqual({ skip: 'a failed event (error)' });
  });

  it('reads a jboss-logging listener line parsed into a map: details at the top level, quoted values, the line’s time', () => {
    const { details, id: _id, time: _time, ...rest } = widening as { details: Record<string, string>; id: string; time: number };
    const quoted = Object.fromEntries(Object.entries({ ...rest, ...details }).map(([k, v]) => [k, `"${v}"`]));
    const mapped = keycloakEvents.map({ ...quoted, time: '2026-12-02T10:07:00.000Z' });
    expect(lifecycle(mapped)[0]).toMatchObject({
      'token.event': 'exchanged',
      'token.id': '1a2b3c4d-5e6f-4a7b-8c8d-9e0f1a2b3c45',
      'token.parent_id': SESSION_GRANT,
      'token.audience': ['billing-api'],
    });
    expect(eventsOf(mapped)[0]?.timeMs).toBe(Date.parse('2026-12-02T10:07:00.000Z'));
  });

  it('issues a client-credentials token with no session on its own', () => {
    const clientLogin = { ...codeToToken, type: 'CLIENT_LOGIN', sessionId: null };
    expect(lifecycle(keycloakEvents.map(clientLogin)).map((a) => [a['token.event'], a['token.id'], a['token.parent_id']])).toEqual([
      ['issued', '6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d91', undefined],
      ['issued', '7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e01', undefined],
    ]);
  });
});

describe('okta-system-log mapping', () => {
  const [grant, revoke, login] = okta() as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];

  it('issues the access token target (its jti) with granted scopes, expiry, the server’s audience and the client as agent', () => {
    expect(lifecycle(oktaSystemLog.map(grant))).toEqual([
      expect.objectContaining({
        'token.event': 'issued',
        'token.id': 'AT.k3Xq9ZtB7uYw2Lr5NcVm8PfHd1SgJ4aE6oQiRbTnKlM',
        'gen_ai.agent.id': '0oa8reportagent4x7',
        'token.scopes': ['reports:read'],
        'token.expires_at': '2026-12-02T11:00:00.000Z',
        'token.audience': ['https://reports.agents.example'],
      }),
    ]);
  });

  it('revokes the token target of a revocation, and skips other events and failures', () => {
    expect(lifecycle(oktaSystemLog.map(revoke))).toEqual([
      expect.objectContaining({ 'token.event': 'revoked', 'token.id': 'AT.k3Xq9ZtB7uYw2Lr5NcVm8PfHd1SgJ4aE6oQiRbTnKlM' }),
    ]);
    expect(oktaSystemLog.map(login)).toEqual({ skip: 'not a token grant or revocation' });
    expect(oktaSystemLog.map({ ...grant, outcome: { result: 'FAILURE', reason: 'no_matching_policy' } })).toEqual({
      skip: 'a failed event (outcome not SUCCESS)',
    });
  });

  it('reports a grant that names no token as malformed', () => {
    expect(oktaSystemLog.map({ ...grant, target: [] })).toEqual({
      error:
        'app.oauth2.as.token.grant.access_token 4c1e7a52-8f3b-11f1-9a5d-2b6e8c0d4f17: no access_token or refresh_token target names the token',
    });
  });
});
