import { readFileSync } from 'node:fs';
import { logsRequestJson } from '@intentwatch/collector';
import { tokenFingerprint } from '@intentwatch/conventions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '@intentwatch/alerts';
import { DETECTORS } from './rules/index.js';
import { DetectorHarness } from '../testing/harness.js';
import type { ScenarioSpan } from '../testing/scenario.js';

/**
 * Identity systems' audit records in through `POST /v1/logs` (real HTTP, real collector, real
 * store), agents' spans through `/v1/traces`, and every detector run over them: the grants the
 * records describe are the intent the agents' uses are judged by.
 */

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/audit-logs/${name}`, import.meta.url), 'utf8');
type AuditRecord = Record<string, unknown>;
const k8s = fixture('kubernetes-audit.ndjson')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as AuditRecord);
const trail = (JSON.parse(fixture('cloudtrail.json')) as { Records: AuditRecord[] }).Records;

let h: DetectorHarness;

beforeAll(async () => {
  h = await DetectorHarness.start();
});

afterAll(async () => {
  await h?.close();
});

async function sendLogs(records: AuditRecord[], source?: string): Promise<void> {
  const res = await fetch(`${h.url}/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: logsRequestJson(records, source ? { 'intentwatch.source': source } : {}),
  });
  const body = await res.text();
  expect(res.status, body).toBe(200);
  expect(body, 'no record rejected').toBe('{}');
}

/** Runs every detector and returns the alerts about `tokenId`, by any detector. */
async function alertsAbout(tokenId: string): Promise<Alert[]> {
  for (const d of DETECTORS) await h.run(d);
  const settle = Math.max(...DETECTORS.map((d) => d.settleMs(h.config)));
  await new Promise((r) => setTimeout(r, settle + 50));
  for (const d of DETECTORS) await h.run(d);
  return (await h.alerts.list({ tokenId, limit: 100 })).alerts;
}

const summary = (alerts: Alert[]) => alerts.map((a) => `${a.detector}/${a.severity}: ${a.reason}`);

describe('kubernetes-audit: a pod’s projected service-account token', () => {
  const jwt = (k8s[0] as { responseObject: { status: { token: string } } }).responseObject.status.token;
  // The agent SDK's fingerprint of the projected token: its jti, the TokenRequest's credential id.
  const tokenId = tokenFingerprint(jwt);
  const BASE = Date.parse('2026-12-02T10:55:00Z');
  const agentUse = (at: number, service: string): ScenarioSpan => ({
    at,
    name: `GET https://${service}/v1/secret/data/triage`,
    attrs: { 'token.id': tokenId, 'service.peer.name': service, 'gen_ai.agent.id': 'triage-bot' },
    resource: { 'service.name': 'triage-bot' },
  });

  it('joins the agent’s span to its TokenRequest with no configuration: the SDK fingerprint is the JTI', () => {
    expect(tokenId).toBe('7f3c2a9e-4b1d-4e5a-9c8f-2d6e1b0a5c47');
  });

  it('stays silent while the agent uses the token for a TokenRequest audience, within its lifetime and its pod’s', async () => {
    await sendLogs(k8s, 'kubernetes-audit');
    await h.send([agentUse(120, 'vault')], BASE);
    expect(summary(await alertsAbout(tokenId))).toEqual([]);
  });

  it('raises cross_service_reuse when the agent presents the token to a service outside its audiences', async () => {
    await h.send([agentUse(180, 'api.github.com')], BASE);
    const alerts = await alertsAbout(tokenId);
    expect(summary(alerts)).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ detector: 'cross_service_reuse', severity: 'high', tokenId, target: 'api.github.com' });
    expect(alerts[0]?.reason).toContain('api.github.com is outside its audience [vault]');
  });

  it('raises stale_token_use when the token is used after its bound pod was deleted (the task ended)', async () => {
    await h.send([agentUse(40 * 60, 'vault')], BASE);
    const alerts = await alertsAbout(tokenId);
    const stale = alerts.filter((a) => a.detector === 'stale_token_use');
    expect(summary(stale)).toHaveLength(1);
    expect(stale[0]?.taskId).toBe('agents/triage-bot-7d9f8');
  });
});

describe('cloudtrail: temporary credentials from AssumeRole with a session policy', () => {
  const tokenId = tokenFingerprint('ASIAIOSFODNN7EXAMPLE');
  const [assumeRole, getObject, deleteObject, ec2] = trail as [AuditRecord, AuditRecord, AuditRecord, AuditRecord];

  it('stays silent for reads the session policy allows, and for activity of long-term keys', async () => {
    await sendLogs([assumeRole, getObject, ec2]);
    expect(summary(await alertsAbout(tokenId))).toEqual([]);
  });

  it('raises scope_creep when the credentials are used for an action outside the session policy', async () => {
    await sendLogs([deleteObject], 'cloudtrail');
    const alerts = await alertsAbout(tokenId);
    expect(summary(alerts)).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ detector: 'scope_creep', tokenId, agentId: 'report-agent-T-42' });
    expect(alerts[0]?.reason).toContain('s3:DeleteObject');
  });

  it('raises cross_service_reuse when the agent’s own span shows the key used against a service the policy does not name', async () => {
    await h.send(
      [
        {
          at: 150,
          name: 'dynamodb.Scan',
          attrs: { 'token.id': tokenId, 'rpc.service': 'dynamodb', 'gen_ai.agent.id': 'report-agent-T-42' },
          resource: { 'service.name': 'report-agent' },
        },
      ],
      Date.parse('2026-12-02T09:15:00Z'),
    );
    const alerts = (await alertsAbout(tokenId)).filter((a) => a.detector === 'cross_service_reuse');
    expect(summary(alerts)).toHaveLength(1);
    expect(alerts[0]?.reason).toContain('dynamodb is outside its audience [s3]');
  });
});

describe('vault-audit: a token used after its revocation', () => {
  const vault = fixture('vault-audit.ndjson')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditRecord);
  const [request, login, read, renew, revoke, readAfter] = vault as [
    AuditRecord,
    AuditRecord,
    AuditRecord,
    AuditRecord,
    AuditRecord,
    AuditRecord,
  ];
  // The accessor as the audit device writes it (HMAC'd), in the login's response and in every later request.
  const tokenId = 'vault:hmac-sha256:894f9936b7d0e5a803bfe420a3d1f6f7c3f85208edcf222c2653406849e377e6';

  it('stays silent while the token is used within its policies and renewed', async () => {
    await sendLogs([request, login, read, renew], 'vault-audit');
    expect(summary(await alertsAbout(tokenId))).toEqual([]);
  });

  it('stays silent when revoke-accessor arrives: the earlier request came before it', async () => {
    await sendLogs([revoke]);
    expect(summary(await alertsAbout(tokenId))).toEqual([]);
  });

  it('raises a critical stale_token_use for a request made with the token after its accessor was revoked', async () => {
    await sendLogs([readAfter]);
    const alerts = await alertsAbout(tokenId);
    expect(summary(alerts)).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ detector: 'stale_token_use', severity: 'critical', tokenId, agentId: 'triage-bot' });
    expect(Date.parse(alerts[0]?.firstSeen ?? '')).toBe(Date.parse('2026-12-02T10:41:00.004Z'));
  });
});

describe('keycloak-events: token exchange from an agent’s session', () => {
  const [codeToToken, refresh, narrowing, widening] = JSON.parse(fixture('keycloak-events.json')) as AuditRecord[] as [
    AuditRecord,
    AuditRecord,
    AuditRecord,
    AuditRecord,
  ];
  const narrowed = '0f1a2b3c-4d5e-4f6a-9b7c-8d9e0f1a2b34';
  const widened = '1a2b3c4d-5e6f-4a7b-8c8d-9e0f1a2b3c45';

  it('stays silent for a refresh and for an exchange that narrows the scope to another agent', async () => {
    await sendLogs([codeToToken, refresh, narrowing], 'keycloak-events');
    expect(summary(await alertsAbout(narrowed))).toEqual([]);
  });

  it('raises a critical scope_creep when an exchange gives the new token a scope its subject’s session never had', async () => {
    await sendLogs([widening], 'keycloak-events');
    await alertsAbout(widened); // runs every detector
    const alerts = (await h.alerts.list({ detector: 'scope_creep', limit: 100 })).alerts.filter((a) => a.reason.includes(widened));
    expect(summary(alerts)).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ detector: 'scope_creep', severity: 'critical' });
    expect(alerts[0]?.reason).toContain('billing:refund');
    expect(alerts[0]?.reason).toContain('exchange');
    expect((await h.alerts.list({ detector: 'scope_creep', limit: 100 })).alerts.filter((a) => a.reason.includes(narrowed))).toEqual([]);
  });
});

describe('okta-system-log: an access token used after its revocation', () => {
  const [grant, revoke] = JSON.parse(fixture('okta-system-log.json')) as [AuditRecord, AuditRecord];
  const jti = 'AT.k3Xq9ZtB7uYw2Lr5NcVm8PfHd1SgJ4aE6oQiRbTnKlM';
  // An Okta access token is a JWT whose jti the System Log names; the agent SDK fingerprints it by that jti.
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const jwt = `${b64({ kid: 'okta-2026', alg: 'RS256' })}.${b64({ ver: 1, jti, iss: 'https://agents.okta.example/oauth2/aus9reports0Ab1Cd2', aud: 'https://reports.agents.example', cid: '0oa8reportagent4x7', scp: ['reports:read'] })}.c2lnbmF0dXJl`;
  const tokenId = tokenFingerprint(jwt);
  const BASE = Date.parse('2026-12-02T10:00:00Z');
  const agentUse = (at: number): ScenarioSpan => ({
    at,
    name: 'GET /v1/reports/q3',
    attrs: {
      'token.id': tokenId,
      'server.address': 'reports.agents.example',
      'gen_ai.agent.id': '0oa8reportagent4x7',
      'token.scope': 'reports:read',
    },
    resource: { 'service.name': 'report-agent' },
  });

  it('joins the agent’s span to the System Log’s grant: the SDK fingerprint of the access token is its jti', () => {
    expect(tokenId).toBe(jti);
  });

  it('stays silent for a use within the grant before the revocation, also once the revocation arrives', async () => {
    await sendLogs([grant], 'okta-system-log');
    await h.send([agentUse(5 * 60)], BASE);
    expect(summary(await alertsAbout(tokenId))).toEqual([]);
    await sendLogs([revoke]);
    expect(summary(await alertsAbout(tokenId))).toEqual([]);
  });

  it('raises a critical stale_token_use when the agent presents the token after Okta revoked it', async () => {
    await h.send([agentUse(25 * 60)], BASE);
    const alerts = await alertsAbout(tokenId);
    expect(summary(alerts)).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ detector: 'stale_token_use', severity: 'critical', tokenId });
  });
});
