import type { Severity } from '@intentwatch/alerts';
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
  /** The grantee's workload (`workload.id`), when the grant names one. */
  granteeWorkload?: string;
  /** The environment the token was issued for (`deployment.environment.name` of the grant). */
  environment?: string;
  /** The kind of the latest grant event: `issued`, `refreshed` or `exchanged`. */
  event?: string;
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

export type CompromiseKind = 'other_caller' | 'other_environment' | 'refresh_other' | 'ungoverned';

/**
 * Why an alert says the credential itself is compromised, not only misused, or undefined when it
 * does not:
 * - `ungoverned`: an `ungoverned_token` alert — a credential no grant describes is in use (OWASP
 *   NHI2, secret leakage): a secret seen where no broker put it, leaked or minted around the broker;
 * and for a `cross_service_reuse` alert:
 * - `other_caller`: the token was presented by someone other than its grantee;
 * - `other_environment`: the token was seen in an environment it was never issued for (a secret
 *   seen where it should not be: copied into another deployment);
 * - `refresh_other`: the session was refreshed for someone other than its grantee (its refresh
 *   token is in another's hands).
 * An alert only about the audience (the grantee, in its environment, calling another service)
 * is misuse, not theft: it sends no credential-compromise.
 */
export function compromiseOf(
  alert: WebhookAlert,
  token: TokenFacts | undefined,
  session: TokenFacts | undefined,
): CompromiseKind | undefined {
  if (alert.detector === 'ungoverned_token') return 'ungoverned';
  if (alert.detector !== 'cross_service_reuse' || !token) return undefined;
  if (token.event === 'refreshed' && session) {
    // As the detector judges it (core refreshChangesGrantee): workloads when both name one, else agents.
    const changed =
      token.granteeWorkload && session.granteeWorkload
        ? token.granteeWorkload !== session.granteeWorkload
        : token.grantee !== '' && session.grantee !== '' && token.grantee !== session.grantee;
    if (changed) return 'refresh_other';
  }
  if (token.grantee !== '' && alert.agentId !== '' && alert.agentId !== token.grantee) return 'other_caller';
  if (token.environment && alert.environment !== '' && alert.environment !== token.environment) return 'other_environment';
  return undefined;
}

/** True when the alert says the token was stolen (see {@link compromiseOf}). */
export function isStolenToken(alert: WebhookAlert, facts: TokenFacts | undefined, session?: TokenFacts): boolean {
  return compromiseOf(alert, facts, session) !== undefined;
}

const COMPROMISE_REASON: Record<CompromiseKind, string> = {
  other_caller: 'presented by someone other than its grantee',
  other_environment: 'seen in an environment it was not issued for',
  refresh_other: "the session's refresh token was used by someone other than its grantee",
  ungoverned: 'in use with no grant describing it (a secret seen where no broker issued it)',
};

/**
 * The events an alert causes: a CAEP `risk-level-change` of the session (CAEP 1.0 §3.8:
 * principal SESSION, level from the severity), and a RISC `credential-compromise` (RISC 1.0
 * §2.7) when the alert says the credential is in the wrong hands or the wrong place
 * ({@link compromiseOf}): of the token, or of the session for a refresh by someone else.
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
  const kind = compromiseOf(alert, tokenFacts, sessionFacts);
  if (kind) {
    // A refresh by someone else compromises the session's refresh token: the subject is the session.
    const refresh = kind === 'refresh_other';
    const subjectToken = refresh ? sessionRoot : alert.tokenId;
    const subjectFacts = refresh ? sessionFacts : tokenFacts;
    const about = context(alert);
    events.push({
      type: RISC_CREDENTIAL_COMPROMISE,
      subject: tokenSubject(subjectToken, subjectFacts?.issuer || undefined),
      payload: {
        // RISC 1.0 §2.7 takes CAEP's credential types "or any other mutually supported": an OAuth bearer or refresh token.
        credential_type: refresh ? 'refresh-token' : 'bearer-token',
        event_timestamp: toe,
        reason_admin: { en: `${COMPROMISE_REASON[kind]}: ${alert.reason}`.slice(0, 1000) },
        ...about,
        intentwatch: { ...(about.intentwatch as object), compromise: kind },
      },
      txn,
      toe,
      alertId: alert.id,
      tokenId: subjectToken,
      sessionRoot,
      dedupKey: `compromise:${subjectToken}`,
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

/** SSF 1.0 §8.1.5: a stream-updated event, its subject the stream itself as `opaque`. */
export function statusEvent(streamId: string, status: string, reason: string, now: number, dedupKey: string): SsfEvent {
  return {
    type: SSF_STREAM_UPDATED,
    subject: { format: 'opaque', id: streamId },
    payload: reason ? { status, reason } : { status },
    txn: `stream:${streamId}:${now}`,
    toe: Math.floor(now / 1000),
    alertId: '',
    tokenId: '',
    sessionRoot: '',
    dedupKey,
  };
}
