import type { Severity } from '../../alerts/model.js';
import type { WebhookAlert } from '../payload.js';

/**
 * The Shared Signals events intentwatch transmits, and how an alert or a revoke request becomes
 * one. Specs: OpenID Shared Signals Framework 1.0 (SSF), OpenID CAEP 1.0, OpenID RISC 1.0,
 * RFC 8417 (Security Event Token), RFC 9493 (Subject Identifiers for SETs).
 */
export const CAEP_RISK_LEVEL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/risk-level-change';
export const CAEP_SESSION_REVOKED_EVENT = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const RISC_CREDENTIAL_COMPROMISE = 'https://schemas.openid.net/secevent/risc/event-type/credential-compromise';
/** SSF 1.0 §8.1.4.1 (Verification Event). */
export const SSF_VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';
/** SSF 1.0 §8.1.5 (Stream Updated Event): sent when the transmitter itself pauses or enables a stream. */
export const SSF_STREAM_UPDATED = 'https://schemas.openid.net/secevent/ssf/event-type/stream-updated';

/** The event types a stream may request (verification and stream-updated are always sent). */
export const SSF_EVENTS_SUPPORTED = [CAEP_RISK_LEVEL_CHANGE, RISC_CREDENTIAL_COMPROMISE, CAEP_SESSION_REVOKED_EVENT] as const;

/** RFC 8935 push and RFC 8936 poll, as SSF 1.0 §6.1 names them. */
export const PUSH_METHOD = 'urn:ietf:rfc:8935';
export const POLL_METHOD = 'urn:ietf:rfc:8936';

/** RFC 9493 §3 subject identifiers, plus SSF 1.0 §3.4.1 `jwt_id`. */
export type SubjectId =
  | { format: 'opaque'; id: string }
  | { format: 'jwt_id'; iss: string; jti: string }
  | { format: string; [member: string]: string };

/** One event to sign: its type, subject, payload and the cause it shares with others (`txn`). */
export interface SsfEvent {
  type: string;
  subject: SubjectId;
  /** The event object (the value under the type in `events`). */
  payload: Record<string, unknown>;
  /** Shared by the SETs one alert or one revocation causes (SSF 1.0 §4.1.8). */
  txn: string;
  /** Time of the event, epoch seconds (RFC 8417 `toe`). */
  toe: number;
  /** The alert the event is about; empty for verification. */
  alertId: string;
  /** The token the subject names, for the audit trail. */
  tokenId: string;
  sessionRoot: string;
  /** One event of a type per key per stream: updates of the same alert at the same level send nothing new. */
  dedupKey: string;
}

/**
 * CAEP 1.0 §3.8 levels are LOW, MEDIUM and HIGH only: critical reads as HIGH (the SET's
 * `intentwatch.severity` keeps the detail).
 */
export function riskLevel(severity: Severity | string): 'LOW' | 'MEDIUM' | 'HIGH' {
  if (severity === 'low') return 'LOW';
  if (severity === 'medium') return 'MEDIUM';
  return 'HIGH';
}

/** A token as an RFC 9493 subject: `jwt_id` (SSF 1.0 §3.4.1) when its issuer is known, `opaque` (RFC 9493 §3.2.4) otherwise. */
export function tokenSubject(tokenId: string, issuer: string | undefined): SubjectId {
  return issuer ? { format: 'jwt_id', iss: issuer, jti: tokenId } : { format: 'opaque', id: tokenId };
}

/** A stable text of a subject, for matching a stream's added subjects (member order does not matter). */
export function subjectKey(s: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(s)
      .sort()
      .map((k) => [k, s[k]]),
  );
}

/** The grant facts an event names: who the token was issued to, and the issuer of a JWT token. */
export interface TokenFacts {
  grantee: string;
  /** From the grant's `token.issuer` attribute: the `iss` of a JWT token, when the broker names it. */
  issuer: string;
}

const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

function context(alert: WebhookAlert): Record<string, unknown> {
  // SSF 1.0 §4.2.3: additional fields are allowed; receivers ignore what they do not understand.
  return {
    agent_id: alert.agentId,
    task_id: alert.taskId,
    intentwatch: { alert_id: alert.id, detector: alert.detector, severity: alert.severity, session_root: alert.rootTokenId },
  };
}

/**
 * True when the alert says a token was presented by someone other than its grantee: a
 * `cross_service_reuse` finding whose calling agent is not the grantee the token's grant names. That is a stolen credential, not only a misused one.
 */
export function isStolenToken(alert: WebhookAlert, facts: TokenFacts | undefined): boolean {
  if (alert.detector !== 'cross_service_reuse' || !facts) return false;
  return facts.grantee !== '' && alert.agentId !== '' && alert.agentId !== facts.grantee;
}

/**
 * The events an alert causes: a CAEP `risk-level-change` of the session (CAEP 1.0 §3.8:
 * principal SESSION, level from the severity), and a RISC `credential-compromise` of the token
 * (RISC 1.0 §2.7) when it was presented by someone other than its grantee.
 */
export function alertEvents(alert: WebhookAlert, facts: ReadonlyMap<string, TokenFacts>): SsfEvent[] {
  const sessionRoot = alert.rootTokenId || alert.tokenId;
  const sessionFacts = facts.get(sessionRoot) ?? facts.get(alert.tokenId);
  const tokenFacts = facts.get(alert.tokenId);
  const txn = `alert:${alert.id}`;
  const toe = seconds(alert.lastSeen);
  const level = riskLevel(alert.severity);
  const events: SsfEvent[] = [
    {
      type: CAEP_RISK_LEVEL_CHANGE,
      subject: tokenSubject(sessionRoot, sessionFacts?.issuer || undefined),
      payload: {
        principal: 'SESSION',
        current_level: level,
        risk_reason: `${alert.detector}: ${alert.reason}`.slice(0, 1000),
        event_timestamp: toe,
        ...context(alert),
      },
      txn,
      toe,
      alertId: alert.id,
      tokenId: alert.tokenId,
      sessionRoot,
      dedupKey: `risk:${alert.id}:${level}`,
    },
  ];
  if (isStolenToken(alert, tokenFacts)) {
    events.push({
      type: RISC_CREDENTIAL_COMPROMISE,
      subject: tokenSubject(alert.tokenId, tokenFacts?.issuer || undefined),
      payload: {
        // RISC 1.0 §2.7 takes CAEP's credential types "or any other mutually supported": an OAuth bearer token.
        credential_type: 'bearer-token',
        event_timestamp: toe,
        reason_admin: { en: alert.reason.slice(0, 1000) },
        ...context(alert),
      },
      txn,
      toe,
      alertId: alert.id,
      tokenId: alert.tokenId,
      sessionRoot,
      dedupKey: `compromise:${alert.tokenId}`,
    });
  }
  return events;
}

/** A CAEP `session-revoked` event (CAEP 1.0 §3.1) for a revoke request made by a policy or an analyst. */
export function sessionRevokedEvent(
  r: { webhookId: string; alertId: string; tokenId: string; sessionRoot: string; requestedBy: string; createdAt: string },
  alert: { agentId: string; taskId: string; reason: string; detector: string; severity: string } | undefined,
  issuer: string | undefined,
): SsfEvent {
  const toe = seconds(r.createdAt);
  return {
    type: CAEP_SESSION_REVOKED_EVENT,
    subject: tokenSubject(r.sessionRoot || r.tokenId, issuer),
    payload: {
      event_timestamp: toe,
      initiating_entity: r.requestedBy === 'policy' ? 'policy' : 'admin',
      reason_admin: {
        en: `intentwatch revoked the session after ${alert ? `${alert.severity} alert ${r.alertId} (${alert.detector})` : `alert ${r.alertId}`}`,
      },
      agent_id: alert?.agentId ?? '',
      task_id: alert?.taskId ?? '',
      intentwatch: { alert_id: r.alertId, revoke_request: r.webhookId, requested_by: r.requestedBy },
    },
    txn: `alert:${r.alertId}`,
    toe,
    alertId: r.alertId,
    tokenId: r.tokenId,
    sessionRoot: r.sessionRoot,
    dedupKey: `revoked:${r.sessionRoot || r.tokenId}`,
  };
}
