import { type CompiledGlob, InvalidInputError, compileGlob, matchesGlob } from '@intentwatch/core';
import { type Severity, severityRank } from '@intentwatch/alerts';
import type { z } from 'zod';
import {
  type BODY_FORMATS,
  type POLICY_TARGETS,
  PolicyDocument,
  type REVOKE_MODES,
  StoredPolicyDocument,
  sealedPart,
} from './policy-schema.js';
import { type SecretBox, isSealed, sealedFingerprint, secretFingerprint } from './secret-box.js';

export { BODY_FORMATS, POLICY_ID, POLICY_LIMITS, POLICY_TARGETS, REVOKE_MODES, limitText } from './policy-schema.js';

/**
 * What a revoke asks the broker to cut off. `token`: the token the alert names. `session`: its
 * session — the root `issued` token and every `refreshed` descendant. `chain`: its whole
 * delegation chain — from the origin of the `exchanged` links down through every refresh and
 * exchange derived from it.
 */
export type RevokeMode = (typeof REVOKE_MODES)[number];

/** `standard`: `{type, timestamp, data}`. `caep`: a SET-like CAEP `session-revoked` event. */
export type BodyFormat = (typeof BODY_FORMATS)[number];

/**
 * What a policy does with the alerts it matches. `revoke`: a signed revoke request to its
 * endpoint. `notify`: a human-readable chat message to a Slack-compatible incoming webhook
 * (`endpoint.url`, whose path is a secret; no signing secrets), batched over `batchMs` and at
 * most `maxPerMinute` messages a minute (past it messages wait; nothing is dropped or paused).
 */
export type PolicyTarget = (typeof POLICY_TARGETS)[number];

/** Which alerts a policy acts on. An absent or empty list matches anything. */
export interface PolicyMatch {
  detectors?: string[];
  /** Exact severities; combine with `minSeverity` or use one of the two. */
  severities?: Severity[];
  minSeverity?: Severity;
  environments?: string[];
  /** Agent ids or globs (`triage-*`). */
  agents?: string[];
}

export interface RetrySettings {
  /** Attempts before dead-lettering (default `INTENTWATCH_WEBHOOK_MAX_ATTEMPTS`). */
  maxAttempts: number;
  /** First retry after about this long; doubles each attempt, with jitter (default 500 ms). */
  baseDelayMs: number;
  /** Longest wait between attempts (default 5 minutes). */
  maxDelayMs: number;
}

/**
 * A revoke policy: which alerts send which endpoint a signed revoke request, for what, and how
 * carefully. Nothing is revoked without one.
 */
export interface Policy {
  /** Stable id: letters, digits, `-` and `_`. */
  id: string;
  description: string;
  /** A disabled policy matches nothing and refuses manual revokes (default true). */
  enabled: boolean;
  match: PolicyMatch;
  /** `revoke` (default) or `notify`. */
  target: PolicyTarget;
  endpoint: {
    /**
     * The receiver. For a `notify` policy the incoming-webhook URL is a secret: `env:NAME`, or a
     * literal URL stored encrypted like signing secrets and shown only as its origin and a fingerprint.
     */
    url: string;
    /**
     * One secret, or two during rotation (both signatures are sent): `whsec_…` literals or
     * `env:NAME` references to an environment variable holding one. A policy stored through the
     * API holds its literals encrypted (`enc:v1:…`, see SecretBox) until a delivery signs with them.
     */
    secrets: string[];
    /** Per-request timeout (default `INTENTWATCH_WEBHOOK_TIMEOUT_MS`). */
    timeoutMs?: number;
  };
  revoke: RevokeMode;
  body: BodyFormat;
  /** Record what would be sent, send nothing (default false). */
  dryRun: boolean;
  /** Circuit breaker: past this many revocations in a minute the policy pauses (default 10). */
  maxPerMinute: number;
  retry?: Partial<RetrySettings>;
  /** `notify` only: alerts arriving within this many ms of the first are one message (default 2000). */
  batchMs?: number;
  /** Where the policy comes from: the policies file, the API, or `INTENTWATCH_DEMO_WEBHOOK`. */
  source: PolicySource;
}

export type PolicySource = 'file' | 'api' | 'env';

/** Detector ids of the alerts responders raise themselves; no policy ever acts on them. */
export const RESPONDER_DETECTOR_PREFIX = 'responder_';

const LITERAL_SECRET = /^whsec_[A-Za-z0-9+/=]{24,}$/;
const ENV_URL = /^env:[A-Za-z_][A-Za-z0-9_]*$/;
/** A notify URL as the API shows it: origin, then a fingerprint of the whole URL. */
const REDACTED_URL = /^https?:\/\/[^/\s]+\/…[0-9a-f]{12}$/;

/**
 * Validates a policy as written in the policies file or sent to the API (PolicyDocument,
 * policy-schema.ts) and fills in defaults. Throws InvalidInputError `invalid_policy` naming the
 * field, what it expects and what it got (a secret or a notify URL only as its fingerprint).
 * `stored`: the policy comes from `responder_policies`, where secrets may be encrypted.
 */
export function parsePolicy(input: unknown, source: PolicySource, options: { stored?: boolean } = {}): Policy {
  const result = (options.stored === true ? StoredPolicyDocument : PolicyDocument).safeParse(input, { reportInput: true });
  if (!result.success) throw invalidPolicy(result.error.issues, input);
  const o = result.data;
  const policy: Policy = {
    id: o.id,
    description: o.description ?? '',
    enabled: o.enabled ?? true,
    match: {},
    target: o.target ?? 'revoke',
    endpoint: { url: o.endpoint.url, secrets: o.endpoint.secrets },
    revoke: o.revoke ?? 'session',
    body: o.body ?? 'standard',
    dryRun: o.dryRun ?? false,
    maxPerMinute: o.maxPerMinute ?? 10,
    source,
  };
  if (o.endpoint.timeoutMs != null) policy.endpoint.timeoutMs = o.endpoint.timeoutMs;
  if (o.batchMs != null) policy.batchMs = o.batchMs;
  const m = o.match ?? {};
  if (m.detectors) policy.match.detectors = m.detectors;
  if (m.severities) policy.match.severities = m.severities;
  if (m.minSeverity) policy.match.minSeverity = m.minSeverity;
  if (m.environments) policy.match.environments = m.environments;
  if (m.agents) policy.match.agents = m.agents;
  if (o.retry !== undefined) {
    const retry: Partial<RetrySettings> = {};
    if (o.retry.maxAttempts != null) retry.maxAttempts = o.retry.maxAttempts;
    if (o.retry.baseDelayMs != null) retry.baseDelayMs = o.retry.baseDelayMs;
    if (o.retry.maxDelayMs != null) retry.maxDelayMs = o.retry.maxDelayMs;
    policy.retry = retry;
  }
  return policy;
}

/**
 * Which of a policy's problems is told when it has several, first to last: the policy itself
 * (not an object, an unknown field), then each field. `match.` stands for an unknown field of
 * `match`, told after its known ones.
 */
const PROBLEM_ORDER = [
  '',
  'id',
  'match',
  'endpoint',
  'target',
  'endpoint.url',
  'endpoint.secrets',
  'description',
  'enabled',
  'revoke',
  'body',
  'dryRun',
  'maxPerMinute',
  'endpoint.timeoutMs',
  'batchMs',
  'match.detectors',
  'match.severities',
  'match.environments',
  'match.agents',
  'match.minSeverity',
  'match.',
  'retry',
  'retry.maxAttempts',
  'retry.baseDelayMs',
  'retry.maxDelayMs',
];

/** Where an issue stands in PROBLEM_ORDER. */
function problemRank(issue: z.core.$ZodIssue): number {
  const field = issue.path.filter((p) => typeof p === 'string').join('.');
  const rank = PROBLEM_ORDER.indexOf(issue.code === 'unrecognized_keys' && field ? `${field}.` : field);
  return rank < 0 ? PROBLEM_ORDER.length : rank;
}

/**
 * The first problem of a policy (PROBLEM_ORDER) as one sentence: "revoke: expected token,
 * session, chain, got "everything"". An item of a list is told with its whole list.
 */
function invalidPolicy(issues: readonly z.core.$ZodIssue[], input: unknown): InvalidInputError {
  const [issue] = [...issues].sort((a, b) => problemRank(a) - problemRank(b));
  if (!issue) return new InvalidInputError('invalid_policy', 'policy: invalid');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] as string;
    return problem([...issue.path.map(String), key].join('.'), issue.message, key);
  }
  const listAt = issue.path.findIndex((p) => typeof p === 'number');
  const path = (listAt < 0 ? issue.path : issue.path.slice(0, listAt)).map(String);
  let got: unknown = listAt < 0 ? issue.input : path.reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], input);
  const secret = (issue as { params?: { secret?: string } }).params?.secret;
  if (secret === 'secret') got = redactSecret(String(got));
  if (secret === 'url' && typeof got === 'string') got = redactUrl(got);
  return problem(path.join('.') || 'policy', issue.message, got);
}

function problem(field: string, expected: string, got: unknown): InvalidInputError {
  return new InvalidInputError('invalid_policy', `${field}: expected ${expected}, got ${JSON.stringify(got) ?? 'nothing'}`);
}

/** True when `policy` acts on `alert` by itself (manual revokes skip the match). */
export function policyMatches(
  policy: Policy,
  alert: { detector: string; severity: string; environment: string; agentId: string },
): boolean {
  if (!policy.enabled || alert.detector.startsWith(RESPONDER_DETECTOR_PREFIX)) return false;
  const m = policy.match;
  if (m.detectors?.length && !m.detectors.includes(alert.detector)) return false;
  if (m.severities?.length && !m.severities.includes(alert.severity as Severity)) return false;
  if (m.minSeverity && severityRank(alert.severity) < severityRank(m.minSeverity)) return false;
  if (m.environments?.length && !m.environments.includes(alert.environment)) return false;
  if (m.agents?.length && !m.agents.some((g) => matchesGlob(agentGlob(g), alert.agentId))) return false;
  return true;
}

const globs = new Map<string, CompiledGlob>();
function agentGlob(pattern: string): CompiledGlob {
  let re = globs.get(pattern);
  if (!re) {
    re = compileGlob(pattern);
    globs.set(pattern, re);
  }
  return re;
}

/**
 * The signing secrets of a policy: `env:` references read from `env`, encrypted ones decrypted
 * with `box` — call it only to sign. Throws InvalidInputError when a referenced variable is unset or
 * holds no `whsec_` secret, or an encrypted secret does not decrypt (no key, or another key).
 */
export function resolveSecrets(policy: Policy, env: NodeJS.ProcessEnv, box?: SecretBox): string[] {
  return policy.endpoint.secrets.map((s) => {
    if (isSealed(s)) {
      if (!box) {
        throw new InvalidInputError(
          'invalid_policy',
          `endpoint.secrets: whsec_…${sealedFingerprint(s)} is stored encrypted, and INTENTWATCH_SECRETS_KEY is not set in this process`,
        );
      }
      try {
        return box.open(s, policy.id);
      } catch (e) {
        throw new InvalidInputError('invalid_policy', `endpoint.secrets: ${(e as Error).message}`);
      }
    }
    if (!s.startsWith('env:')) return s;
    const name = s.slice(4);
    const v = env[name]?.trim();
    if (!v || !LITERAL_SECRET.test(v)) {
      throw new InvalidInputError('invalid_policy', `endpoint.secrets: ${s} names a variable that does not hold a whsec_ secret`);
    }
    return v;
  });
}

/** A secret as the API shows it: `env:` references as they are, literals (plain or encrypted) as a fingerprint. */
export function redactSecret(secret: string): string {
  if (secret.startsWith('env:') || REDACTED.test(secret)) return secret;
  return `whsec_…${sealedFingerprint(secret) ?? secretFingerprint(secret)}`;
}

/** True for a `whsec_` secret in plain text (neither a reference nor encrypted). */
export function isPlainSecret(secret: string): boolean {
  return LITERAL_SECRET.test(secret);
}

/**
 * The policy with its plain `whsec_` secrets encrypted by `box`, as `responder_policies` stores
 * it. Throws InvalidInputError when it has one and there is no key: nothing stores a secret in plain text.
 */
export function sealSecrets(policy: Policy, box: SecretBox | undefined): Policy {
  const secrets = policy.endpoint.secrets.map((s) => {
    if (!isPlainSecret(s)) return s;
    if (!box) {
      throw new InvalidInputError(
        'invalid_policy',
        'endpoint.secrets: a whsec_ secret given through the API is stored only encrypted, and INTENTWATCH_SECRETS_KEY is not set: give the secret as env:NAME (a variable of the processes that deliver), or set INTENTWATCH_SECRETS_KEY (32 random bytes, base64 or hex) where the API and the responders run',
      );
    }
    return box.seal(s, policy.id);
  });
  let url = policy.endpoint.url;
  if (policy.target === 'notify' && /^https?:\/\//i.test(url) && !REDACTED_URL.test(url) && !isSealed(sealedPart(url))) {
    if (!box) {
      throw new InvalidInputError(
        'invalid_policy',
        'endpoint.url: an incoming-webhook URL given through the API is stored only encrypted (its path is a secret), and INTENTWATCH_SECRETS_KEY is not set: give the URL as env:NAME (a variable of the processes that deliver), or set INTENTWATCH_SECRETS_KEY where the API and the responders run',
      );
    }
    url = `${new URL(url).origin}|${box.seal(url, policy.id)}`;
  }
  return { ...policy, endpoint: { ...policy.endpoint, url, secrets } };
}

const REDACTED = /^whsec_…[0-9a-f]{12}$/;

/** The policy without its secret values, as the API returns it. */
export function publicPolicy(policy: Policy): Policy {
  const url = policy.target === 'notify' ? redactUrl(policy.endpoint.url) : policy.endpoint.url;
  return { ...policy, endpoint: { ...policy.endpoint, url, secrets: policy.endpoint.secrets.map(redactSecret) } };
}

/**
 * A notify URL as the API, logs and the audit trail show it: `env:` references as they are,
 * a URL (plain or encrypted) as its origin and 12 hex digits of its SHA-256.
 */
export function redactUrl(url: string): string {
  if (ENV_URL.test(url) || REDACTED_URL.test(url)) return url;
  const sealed = sealedPart(url);
  if (isSealed(sealed)) return `${sealedOrigin(url)}/…${sealedFingerprint(sealed) ?? ''}`;
  const fingerprint = secretFingerprint(url);
  let origin = 'https://invalid';
  try {
    origin = new URL(url).origin;
  } catch {}
  return `${origin}/…${fingerprint}`;
}

/** Sealed notify URLs carry their origin in front (`origin|enc:v1:…`) so that a redacted view needs no key. */
function sealedOrigin(stored: string): string {
  const i = stored.indexOf('|');
  return i > 0 ? stored.slice(0, i) : 'https://encrypted';
}

/**
 * The incoming-webhook URL of a notify policy: `env:` references read from `env`, encrypted
 * ones decrypted with `box`. Throws InvalidInputError naming the reference (never the URL).
 */
export function resolveUrl(policy: Policy, env: NodeJS.ProcessEnv, box?: SecretBox): string {
  const u = policy.endpoint.url;
  if (policy.target !== 'notify') return u;
  if (ENV_URL.test(u)) {
    const v = env[u.slice(4)]?.trim();
    if (!v || !/^https?:\/\//i.test(v)) {
      throw new InvalidInputError('invalid_policy', `endpoint.url: ${u} names a variable that does not hold an http(s) URL`);
    }
    return v;
  }
  const sealed = sealedPart(u);
  if (isSealed(sealed)) {
    if (!box) {
      throw new InvalidInputError(
        'invalid_policy',
        `endpoint.url: ${redactUrl(u)} is stored encrypted, and INTENTWATCH_SECRETS_KEY is not set in this process`,
      );
    }
    try {
      return box.open(sealed, policy.id);
    } catch (e) {
      throw new InvalidInputError('invalid_policy', `endpoint.url: ${(e as Error).message}`);
    }
  }
  return u;
}

/**
 * A policy sent back to the API with redacted secrets (as read) keeps the secrets they stand
 * for, so that an admin can edit a policy without re-entering them.
 */
export function restoreSecrets(policy: Policy, previous: Policy | undefined): Policy {
  const secrets = policy.endpoint.secrets.map((s) => {
    if (!REDACTED.test(s)) return s;
    const original = previous?.endpoint.secrets.find((p) => redactSecret(p) === s);
    if (!original) bad('endpoint.secrets', 'a secret (a redacted one only stands for a secret the policy already has)', s);
    return original as string;
  });
  let url = policy.endpoint.url;
  if (policy.target === 'notify' && REDACTED_URL.test(url)) {
    if (previous?.target !== 'notify' || redactUrl(previous.endpoint.url) !== url) {
      bad('endpoint.url', 'a URL (a redacted one only stands for the URL the policy already has)', url);
    }
    url = previous.endpoint.url;
  }
  return { ...policy, endpoint: { ...policy.endpoint, url, secrets } };
}

/** The policy `INTENTWATCH_DEMO_WEBHOOK` turns on: revoke the session of every high or critical alert. */
export function demoPolicy(url: string, secret: string): Policy {
  return {
    id: 'demo',
    description: 'INTENTWATCH_DEMO_WEBHOOK: revoke the session of every high or critical alert',
    enabled: true,
    match: { minSeverity: 'high' },
    target: 'revoke',
    endpoint: { url, secrets: [secret] },
    revoke: 'session',
    body: 'standard',
    dryRun: false,
    maxPerMinute: 60,
    source: 'env',
  };
}

/** The id of the notify policy `INTENTWATCH_NOTIFY_WEBHOOK` makes (the audit trail's id of chat messages before policies had targets). */
export const ENV_NOTIFY_POLICY_ID = 'notify:chat';

/**
 * The notify policy `INTENTWATCH_NOTIFY_WEBHOOK` stands for: every alert of `minSeverity` or
 * above, told in a chat channel (a shorthand for a policy of target `notify`).
 */
export function envNotifyPolicy(settings: { url: string; minSeverity: Severity; maxPerMinute: number; batchMs: number }): Policy {
  return {
    id: ENV_NOTIFY_POLICY_ID,
    description: `INTENTWATCH_NOTIFY_WEBHOOK: tell the chat channel of every ${settings.minSeverity} or higher alert`,
    enabled: true,
    match: { minSeverity: settings.minSeverity },
    target: 'notify',
    endpoint: { url: settings.url, secrets: [] },
    revoke: 'token',
    body: 'standard',
    dryRun: false,
    maxPerMinute: settings.maxPerMinute,
    batchMs: settings.batchMs,
    source: 'env',
  };
}

function bad(field: string, expected: string, got: unknown): never {
  throw problem(field, expected, got);
}
