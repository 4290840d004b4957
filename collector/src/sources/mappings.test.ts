import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { awsTime, cloudtrail, sessionPolicy } from './cloudtrail.js';
import { kubernetesAudit } from './kubernetes-audit.js';
import { recogniseFormat } from './registry.js';

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/audit-logs/${name}`, import.meta.url), 'utf8');
const k8s = () =>
  fixture('kubernetes-audit.ndjson')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const trail = () => (JSON.parse(fixture('cloudtrail.json')) as { Records: Record<string, unknown>[] }).Records;

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
    expect(recogniseFormat({ type: 'CODE_TO_TOKEN', realmId: 'r' })).toBeUndefined();
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
