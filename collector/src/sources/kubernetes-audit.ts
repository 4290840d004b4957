import { type Attributes, fingerprint } from '@intentwatch/core';
import { type MappedEvent, type Mapping, type SourceFormat, type SourceRecord, at, isObject, text, texts } from './types.js';

/**
 * Kubernetes API server audit events (`audit.k8s.io/v1` Event, one JSON object per line of the
 * audit log backend or webhook batch items).
 *
 * Mapped from Kubernetes' own documentation and source:
 * - Event fields (`auditID`, `stage`, `verb`, `user`, `objectRef`, `responseStatus`,
 *   `responseObject`, `annotations`, `requestReceivedTimestamp`, `stageTimestamp`):
 *   https://kubernetes.io/docs/reference/config-api/apiserver-audit.v1/ and
 *   https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/ (one event per stage; only
 *   `ResponseComplete` describes the outcome, so other stages are skipped to count each request once).
 * - TokenRequest (`create` on `serviceaccounts`, subresource `token`):
 *   https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-request-v1/
 *   (`spec.audiences`, `spec.expirationSeconds`, `spec.boundObjectRef`, `status.expirationTimestamp`,
 *   `status.token`).
 * - The credential id: `authentication.kubernetes.io/issued-credential-id` annotation on the
 *   TokenRequest's audit event and `user.extra["authentication.kubernetes.io/credential-id"]` on
 *   every request the token authenticates, both `JTI=<jti>` (KEP-4193, kubernetes#123098,
 *   pkg/serviceaccount/util.go). The `jti` is the token id the agent SDK's fingerprint yields.
 *
 * The pod a token is bound to is the task (`<namespace>/<pod>`): its deletion ends the task.
 * The API server only accepts a token for its own audiences, so a request in its audit log is
 * within the token's audience by construction and is stored without a target.
 */
export const kubernetesAudit: SourceFormat = {
  id: 'kubernetes-audit',
  recognise: (r) => r.kind === 'Event' && typeof r.apiVersion === 'string' && r.apiVersion.startsWith('audit.k8s.io/'),
  map,
};

const CREDENTIAL_ID = 'authentication.kubernetes.io/credential-id';
const ISSUED_CREDENTIAL_ID = 'authentication.kubernetes.io/issued-credential-id';
const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';

function map(r: SourceRecord): Mapping {
  const auditId = text(r, 'auditID');
  if (!auditId || !isObject(r.user)) return { error: 'a Kubernetes audit event needs auditID and user' };
  if (text(r, 'stage') !== 'ResponseComplete') return { skip: 'not a final stage (ResponseComplete)' };
  const timeMs = Date.parse(text(r, 'stageTimestamp') || text(r, 'requestReceivedTimestamp'));
  if (!Number.isFinite(timeMs)) return { error: `audit event ${auditId}: stageTimestamp is not an RFC 3339 time` };
  const code = Number(at(r, 'responseStatus', 'code') ?? 200);
  const succeeded = code >= 200 && code < 300;
  const verb = text(r, 'verb');
  const resource = text(r, 'objectRef', 'resource');
  const subresource = text(r, 'objectRef', 'subresource');
  const namespace = text(r, 'objectRef', 'namespace');
  const name = text(r, 'objectRef', 'name');
  const events: MappedEvent[] = [];

  const jti = credentialJti(texts(r, 'user', 'extra', CREDENTIAL_ID)[0] ?? '');
  if (jti) events.push(use(r, jti, timeMs, code));

  if (succeeded && verb === 'create' && resource === 'serviceaccounts' && subresource === 'token') {
    const issued = tokenRequest(r, timeMs, namespace, name);
    if (typeof issued === 'string') return { error: `audit event ${auditId}: ${issued}` };
    events.push(issued);
  } else if (succeeded && verb === 'delete' && resource === 'pods' && !subresource && namespace && name) {
    events.push({
      timeMs,
      name: 'pod deleted',
      serviceName: 'kube-apiserver',
      attrs: { 'task.event': 'completed', 'task.id': `${namespace}/${name}` },
    });
  }
  if (events.length === 0) return { skip: 'no service-account token issued, used or ended' };
  return { events, id: auditId };
}

/** The jti of a `JTI=<jti>` credential id, or ''. */
function credentialJti(value: string): string {
  return value.startsWith('JTI=') ? value.slice(4) : '';
}

function use(r: SourceRecord, jti: string, timeMs: number, code: number): MappedEvent {
  const username = text(r, 'user', 'username');
  const extra = at(r, 'user', 'extra');
  const pod = texts(extra, 'authentication.kubernetes.io/pod-name')[0] ?? '';
  const namespace = username.startsWith(SERVICE_ACCOUNT_PREFIX) ? (username.slice(SERVICE_ACCOUNT_PREFIX.length).split(':')[0] ?? '') : '';
  const verb = text(r, 'verb');
  const resource = [text(r, 'objectRef', 'resource'), text(r, 'objectRef', 'subresource')].filter(Boolean).join('/');
  const attrs: Attributes = {
    'token.id': jti,
    'workload.id': username,
    'token.resource': text(r, 'requestURI'),
    'k8s.audit.id': text(r, 'auditID'),
    'http.response.status_code': code,
  };
  if (pod && namespace) attrs['task.id'] = `${namespace}/${pod}`;
  if (verb && resource) attrs['token.scope'] = `${verb} ${resource}`;
  return { timeMs, name: `${verb} ${resource || text(r, 'requestURI')}`.trim(), serviceName: username || 'kube-apiserver', attrs };
}

function tokenRequest(r: SourceRecord, timeMs: number, namespace: string, serviceAccount: string): MappedEvent | string {
  const annotated = credentialJti(text(r, 'annotations', ISSUED_CREDENTIAL_ID));
  const response = isObject(r.responseObject) ? r.responseObject : undefined;
  const request = isObject(r.requestObject) ? r.requestObject : undefined;
  // Without the annotation (API servers before 1.29), the response's token names it by its
  // fingerprint, which for a service-account JWT is its jti. The token itself is never kept.
  const rawToken = text(response, 'status', 'token');
  const tokenId = annotated || (rawToken ? fingerprint(rawToken) : '');
  if (!tokenId)
    return `the TokenRequest has no ${ISSUED_CREDENTIAL_ID} annotation and no token in its response (audit level RequestResponse)`;
  const spec = at(response, 'spec') ?? at(request, 'spec');
  const attrs: Attributes = {
    'token.event': 'issued',
    'token.id': tokenId,
    'workload.id': `${SERVICE_ACCOUNT_PREFIX}${namespace}:${serviceAccount}`,
    'k8s.audit.id': text(r, 'auditID'),
    'k8s.requested_by': text(r, 'user', 'username'),
  };
  const audiences = texts(spec, 'audiences');
  if (audiences.length) attrs['token.audience'] = audiences;
  const expiry = text(response, 'status', 'expirationTimestamp');
  const seconds = Number(at(spec, 'expirationSeconds'));
  if (expiry) attrs['token.expires_at'] = expiry;
  else if (Number.isFinite(seconds) && seconds > 0) attrs['token.expires_at'] = new Date(timeMs + seconds * 1000).toISOString();
  if (text(spec, 'boundObjectRef', 'kind') === 'Pod') {
    const pod = text(spec, 'boundObjectRef', 'name');
    if (pod) attrs['task.id'] = `${namespace}/${pod}`;
  }
  return { timeMs, name: 'TokenRequest', serviceName: 'kube-apiserver', attrs };
}
