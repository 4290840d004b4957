import type { Alert } from '../alerts/model.js';
import type { BodyFormat } from './policy.js';
import type { RevokeTarget } from './revoke-targets.js';

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
    revoke: { mode: RevokeTarget['mode']; tokens: string[]; sessionRoot: string; chain: string[] };
    /** One sentence: why this is being revoked. */
    reason: string;
    policy: string;
    /** `policy` for automatic revokes, `analyst:<key name>` for manual ones. */
    requestedBy: string;
  };
}

export interface BodyInput {
  format: BodyFormat;
  webhookId: string;
  alert: WebhookAlert;
  target: RevokeTarget;
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
 * The JSON body of a revoke request, built once and sent unchanged on every attempt (only the
 * signature headers change), so that a receiver can de-duplicate on `webhook-id`.
 *
 * `caep` gives a Security Event Token-shaped JSON object (not a signed JWT: the Standard Webhooks
 * signature authenticates it) with one CAEP `session-revoked` event whose subject is the session
 * root (`token` mode: the token; `chain` mode: the origin of the delegation chain).
 */
export function buildBody(input: BodyInput): string {
  const { alert, target } = input;
  const reason = revokeReason(alert, input.requestedBy);
  if (input.format === 'caep') {
    const subject =
      target.mode === 'token'
        ? target.tokenId
        : target.mode === 'chain'
          ? (target.chain[target.chain.length - 1] as string)
          : target.sessionRoot;
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
        revoke: { mode: target.mode, tokens: target.tokens, sessionRoot: target.sessionRoot, chain: target.chain },
      },
    });
  }
  const body: RevokeRequestBody = {
    type: REVOKE_EVENT_TYPE,
    timestamp: new Date(input.requestedAt).toISOString(),
    data: {
      alert,
      revoke: { mode: target.mode, tokens: target.tokens, sessionRoot: target.sessionRoot, chain: target.chain },
      reason,
      policy: input.policyId,
      requestedBy: input.requestedBy,
    },
  };
  return JSON.stringify(body);
}
