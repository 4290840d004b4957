import { type Attributes, fingerprint } from '@intentwatch/core';
import { parseJson } from '../well-formed.js';
import { type MappedEvent, type Mapping, type SourceFormat, type SourceRecord, at, isObject, text, texts } from './types.js';

/**
 * AWS CloudTrail records (one element of a log file's `Records` array, or one EventBridge /
 * CloudWatch Logs event).
 *
 * Mapped from AWS's documentation:
 * - Record contents (`eventTime`, `eventSource`, `eventName`, `userIdentity`, `requestParameters`,
 *   `responseElements`, `resources`, `eventID`):
 *   https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
 * - `userIdentity.accessKeyId` names the key that signed the request; for temporary credentials
 *   (`userIdentity.type` `AssumedRole` or `FederatedUser`) it is the key STS returned:
 *   https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
 * - STS issuance records, with `responseElements.credentials` (`accessKeyId`, `sessionToken`,
 *   `expiration` written like `"Dec 2, 2026, 10:15:00 AM"`, UTC) and `requestParameters`
 *   (`roleSessionName`, `durationSeconds`, `policy`, `sourceIdentity`):
 *   https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html (example
 *   AssumeRole / GetFederationToken log entries).
 * - Session policies (`Statement[].Effect`, `Action`, `Resource`; IAM's `*` matches across `/`):
 *   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html
 *
 * The temporary access key id names the token, by its fingerprint (`sha256:…`, what the agent
 * SDK's `tokenFingerprint` and the collector's redaction make of an `ASIA…` key id). The session policy's allowed actions are the
 * token's scopes (left unrestricted when one is a wildcard, since scopes compare exactly), their
 * resources its resources, their service prefixes its audience. A use's target is the event
 * source's service (`s3.amazonaws.com` → `s3`), its scope `<service>:<eventName>`, its resource
 * the most specific ARN of the event.
 */
export const cloudtrail: SourceFormat = {
  id: 'cloudtrail',
  recognise: (r) => typeof r.eventVersion === 'string' && typeof r.eventSource === 'string' && typeof r.eventName === 'string',
  map,
};

/** ARNs are at most 2048 characters (IAM quotas); longer text is not read as one. */
const MAX_ARN_LENGTH = 2048;
const TEMPORARY_IDENTITIES = new Set(['AssumedRole', 'FederatedUser']);
const ISSUING_EVENTS = new Set(['AssumeRole', 'AssumeRoleWithWebIdentity', 'AssumeRoleWithSAML', 'GetFederationToken', 'GetSessionToken']);

function map(r: SourceRecord): Mapping {
  const eventId = text(r, 'eventID');
  const timeMs = Date.parse(text(r, 'eventTime'));
  if (!eventId || !Number.isFinite(timeMs)) return { error: 'a CloudTrail record needs eventID and an RFC 3339 eventTime' };
  const source = text(r, 'eventSource');
  const eventName = text(r, 'eventName');
  const events: MappedEvent[] = [];

  // Temporary credentials sign as an assumed role or a federated user; long-term keys
  // (IAMUser, Root) are issued by no event here and are not tokens of this contract.
  const keyId = text(r, 'userIdentity', 'accessKeyId');
  if (keyId && TEMPORARY_IDENTITIES.has(text(r, 'userIdentity', 'type'))) events.push(use(r, keyId, timeMs, source, eventName));

  if (source === 'sts.amazonaws.com' && ISSUING_EVENTS.has(eventName) && !text(r, 'errorCode')) {
    const issued = issuance(r, timeMs, eventName);
    if (typeof issued === 'string') return { error: `CloudTrail event ${eventId}: ${issued}` };
    events.push(issued);
  }
  if (events.length === 0) return { skip: 'no temporary credential issued or used' };
  return { events, id: eventId };
}

function service(eventSource: string): string {
  return eventSource.endsWith('.amazonaws.com') ? eventSource.slice(0, -'.amazonaws.com'.length) : eventSource;
}

function use(r: SourceRecord, keyId: string, timeMs: number, source: string, eventName: string): MappedEvent {
  const target = service(source);
  const session = sessionName(r);
  const arns = (Array.isArray(r.resources) ? r.resources : []).map((x) => text(x, 'ARN')).filter(Boolean);
  const attrs: Attributes = {
    'token.id': fingerprint(keyId),
    'service.peer.name': target,
    'token.scope': `${target}:${eventName}`,
    'gen_ai.tool.name': eventName,
    'aws.cloudtrail.event_id': text(r, 'eventID'),
    'cloud.region': text(r, 'awsRegion'),
    'cloud.account.id': text(r, 'recipientAccountId'),
  };
  if (session) attrs['gen_ai.agent.id'] = session;
  // The workload is what the session acts as: the role (or the federating user), as on its grant.
  const principal = text(r, 'userIdentity', 'arn');
  const issuer = text(r, 'userIdentity', 'sessionContext', 'sessionIssuer', 'arn') || principal;
  if (issuer) attrs['workload.id'] = issuer;
  // The most specific resource: an object's ARN is longer than its bucket's.
  const resource = arns.sort((a, b) => b.length - a.length)[0];
  if (resource) attrs['token.resource'] = resource;
  if (text(r, 'errorCode')) attrs['aws.error_code'] = text(r, 'errorCode');
  return { timeMs, name: `${target}:${eventName}`, serviceName: session || principal || 'aws', attrs };
}

/** The role session name of an assumed-role identity (`…:assumed-role/<role>/<session>`), else the federated user's name. */
function sessionName(r: SourceRecord): string {
  const arn = text(r, 'userIdentity', 'arn');
  if (arn.length > MAX_ARN_LENGTH) return '';
  const assumed = /:assumed-role\/[^/]+\/([^/]+)$/.exec(arn);
  if (assumed) return assumed[1] as string;
  const federated = /:federated-user\/([^/]+)$/.exec(arn);
  return federated ? (federated[1] as string) : '';
}

function issuance(r: SourceRecord, timeMs: number, eventName: string): MappedEvent | string {
  const credentials = at(r, 'responseElements', 'credentials');
  const keyId = text(credentials, 'accessKeyId');
  if (!keyId) return `${eventName} has no responseElements.credentials.accessKeyId`;
  const params = at(r, 'requestParameters');
  const session = text(params, 'roleSessionName') || text(params, 'name');
  const attrs: Attributes = {
    'token.event': 'issued',
    'token.id': fingerprint(keyId),
    'aws.cloudtrail.event_id': text(r, 'eventID'),
    'aws.sts.operation': eventName,
  };
  if (session) attrs['gen_ai.agent.id'] = session;
  // What the session acts as, as its uses' `sessionContext.sessionIssuer.arn` names it: the role
  // assumed, or (GetFederationToken, GetSessionToken) the user who asked.
  const workload = text(params, 'roleArn') || text(r, 'userIdentity', 'arn');
  if (workload) attrs['workload.id'] = workload;
  const sourceIdentity = text(params, 'sourceIdentity') || text(r, 'responseElements', 'sourceIdentity');
  if (sourceIdentity) attrs['aws.source_identity'] = sourceIdentity;
  const expiration = awsTime(text(credentials, 'expiration'));
  if (expiration === undefined)
    return `credentials.expiration ${JSON.stringify(text(credentials, 'expiration')).slice(0, 60)} is not a time`;
  if (expiration !== null) attrs['token.expires_at'] = new Date(expiration).toISOString();
  const policyText = text(params, 'policy');
  if (policyText) {
    const policy = sessionPolicy(policyText);
    if (typeof policy === 'string') return policy;
    if (policy.scopes.length) attrs['token.scopes'] = policy.scopes;
    if (policy.resources.length) attrs['token.resources'] = policy.resources;
    if (policy.audience.length) attrs['token.audience'] = policy.audience;
  }
  return { timeMs, name: eventName, serviceName: 'sts', attrs };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** `Dec 2, 2026, 10:15:00 AM`: fixed fields, no nested repetition. */
const CLOUDTRAIL_TIME = /^([A-Z][a-z]{2}) (\d{1,2}), (\d{4}),? (\d{1,2}):(\d{2}):(\d{2}) ([AP]M)$/;

/**
 * CloudTrail's time of a credential's expiry as epoch ms: `Dec 2, 2026, 10:15:00 AM` (UTC) or
 * RFC 3339; null when absent, undefined when unreadable.
 */
export function awsTime(value: string): number | null | undefined {
  if (!value) return null;
  const m = CLOUDTRAIL_TIME.exec(value.trim());
  if (m) {
    const month = MONTHS.indexOf(m[1] as string);
    let hour = Number(m[4]);
    if (month < 0 || hour < 1 || hour > 12) return undefined;
    if (m[7] === 'AM' && hour === 12) hour = 0;
    if (m[7] === 'PM' && hour !== 12) hour += 12;
    return Date.UTC(Number(m[3]), month, Number(m[2]), hour, Number(m[5]), Number(m[6]));
  }
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/** The grant a session policy describes, or a message saying why it cannot be read. */
export function sessionPolicy(policyText: string): { scopes: string[]; resources: string[]; audience: string[] } | string {
  let policy: unknown;
  try {
    policy = parseJson(policyText);
  } catch {
    return 'requestParameters.policy is not JSON';
  }
  const statements = at(policy, 'Statement');
  const list = Array.isArray(statements) ? statements : isObject(statements) ? [statements] : undefined;
  if (!list) return 'requestParameters.policy has no Statement';
  const actions: string[] = [];
  const resources: string[] = [];
  for (const s of list) {
    if (text(s, 'Effect') !== 'Allow') continue;
    actions.push(...texts(s, 'Action'));
    resources.push(...texts(s, 'Resource'));
  }
  const wildcardAction = actions.some((a) => a.includes('*') || a.includes('?'));
  const audience = [...new Set(actions.map((a) => (a.includes(':') ? (a.split(':')[0] as string).toLowerCase() : '')))];
  return {
    scopes: wildcardAction ? [] : [...new Set(actions)],
    // IAM's `*` matches across `/`, which the grant's globs write `**`; a bare `*` grants everything.
    resources: resources.includes('*') ? [] : [...new Set(resources.map((x) => x.replace(/\*+/g, '**')))],
    audience: audience.includes('') || audience.includes('*') ? [] : audience,
  };
}
