import type { Alert } from '@intentwatch/alerts';
import type { BodyFormat } from './policy.js';
import type { RevokeMember, RevokeRelation, RevokeTarget } from './revoke-targets.js';

/** The alert as a webhook carries it: everything but the analysts' notes and assignee. */
export type WebhookAlert = Omit<Alert, 'assignee' | 'notes'>;

export const REVOKE_EVENT_TYPE = 'token.revoke_requested';
export const CAEP_SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';

/** The standard body: `{type, timestamp, data}` (Standard Webhooks payload structure). */
export interface RevokeRequestBody {
  type: typeof REVOKE_EVENT_TYPE;
  /** RFC 3339 time the revoke was requested (the same on every retry). */
  timestamp: string;
  data: {
    alert: WebhookAlert;
    revoke: RevokeSection;
    /** One sentence: why this is being revoked. */
    reason: string;
    policy: string;
    /** `policy` for automatic revokes, `analyst:<key name>` for manual ones. */
    requestedBy: string;
  };
}

/**
 * What one request revokes. One request per token: `token` is the token this request asks the
 * broker to revoke and `relation` how it stands to the alert's token (see RevokeRelation);
 * `tokens` is `[token]`, so that a receiver that revokes every token listed revokes each once.
 */
export interface RevokeSection {
  mode: RevokeTarget['mode'];
  token: string;
  relation: RevokeRelation;
  tokens: string[];
  sessionRoot: string;
  chain: string[];
}

export interface BodyInput {
  format: BodyFormat;
  webhookId: string;
  alert: WebhookAlert;
  target: RevokeTarget;
  /** The one token of the target this request revokes. */
  member: RevokeMember;
  policyId: string;
  requestedBy: string;
  /** Epoch ms of the request. */
  requestedAt: number;
}

/** The one-sentence reason a revoke carries. */
export function revokeReason(alert: WebhookAlert, requestedBy: string): string {
  const who = requestedBy === 'policy' ? 'intentwatch' : requestedBy;
  return `${who} requests revocation after ${alert.severity} alert ${alert.id} (${alert.detector}): ${alert.reason}`;
}

/**
 * The JSON body of a revoke request for one token, built once and sent unchanged on every
 * attempt (only the signature headers change), so that a receiver can de-duplicate on `webhook-id`.
 *
 * `caep` gives a Security Event Token-shaped JSON object (not a signed JWT: the Standard Webhooks
 * signature authenticates it) with one CAEP `session-revoked` event whose subject is the token
 * this request revokes.
 */
export function buildBody(input: BodyInput): string {
  const { alert, target, member } = input;
  const reason = revokeReason(alert, input.requestedBy);
  const revoke: RevokeSection = {
    mode: target.mode,
    token: member.tokenId,
    relation: member.relation,
    tokens: [member.tokenId],
    sessionRoot: target.sessionRoot,
    chain: target.chain,
  };
  if (input.format === 'caep') {
    const subject = member.tokenId;
    const seconds = Math.floor(input.requestedAt / 1000);
    return JSON.stringify({
      iss: 'intentwatch',
      jti: input.webhookId,
      iat: seconds,
      sub_id: { format: 'opaque', id: subject },
      events: {
        [CAEP_SESSION_REVOKED]: {
          event_timestamp: seconds,
          initiating_entity: input.requestedBy === 'policy' ? 'policy' : 'admin',
          reason_admin: { en: reason },
        },
      },
      // What a broker needs beyond the subject, under our own name as RFC 8417 allows.
      intentwatch: {
        alertId: alert.id,
        detector: alert.detector,
        severity: alert.severity,
        policy: input.policyId,
        revoke,
      },
    });
  }
  const body: RevokeRequestBody = {
    type: REVOKE_EVENT_TYPE,
    timestamp: new Date(input.requestedAt).toISOString(),
    data: {
      alert,
      revoke,
      reason,
      policy: input.policyId,
      requestedBy: input.requestedBy,
    },
  };
  return JSON.stringify(body);
}
