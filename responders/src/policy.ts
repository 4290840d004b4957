import { type CompiledGlob, InvalidInputError, compileGlob, matchesGlob } from '@intentwatch/core';
import { SEVERITIES, type Severity, severityRank } from '@intentwatch/alerts';
import { type SecretBox, isSealed, sealedFingerprint, secretFingerprint } from './secret-box.js';

/** What a revoke asks the broker to cut off. */
export const REVOKE_MODES = ['token', 'session', 'chain'] as const;
/**
 * `token`: the token the alert names. `session`: its session — the root `issued` token and every
 * `refreshed` descendant. `chain`: its whole delegation chain — from the origin of the
 * `exchanged` links down through every refresh and exchange derived from it.
 */
export type RevokeMode = (typeof REVOKE_MODES)[number];

/** `standard`: `{type, timestamp, data}`. `caep`: a SET-like CAEP `session-revoked` event. */
export const BODY_FORMATS = ['standard', 'caep'] as const;
export type BodyFormat = (typeof BODY_FORMATS)[number];

/**
 * What a policy does with the alerts it matches. `revoke`: a signed revoke request to its
 * endpoint. `notify`: a human-readable chat message to a Slack-compatible incoming webhook
 * (`endpoint.url`, whose path is a secret; no signing secrets), batched over `batchMs` and at
 * most `maxPerMinute` messages a minute (past it messages wait; nothing is dropped or paused).
 */
export const POLICY_TARGETS = ['revoke', 'notify'] as const;
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

/** A policy id: letters, digits, `-` and `_`, up to 64, starting with a letter or digit. */
export const POLICY_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * The ranges of a policy's numbers, stated once: `parsePolicy` and the API's schema
 * (`PolicyInputFields`, policy-schema.ts) both read them.
 */
export const POLICY_LIMITS = {
  maxPerMinute: { min: 1, max: 10_000 },
  timeoutMs: { min: 100, max: 60_000 },
  batchMs: { min: 0, max: 600_000 },
  maxAttempts: { min: 1, max: 50 },
  baseDelayMs: { min: 1, max: 3_600_000 },
  maxDelayMs: { min: 1, max: 86_400_000 },
} as const;

/** What a number of `POLICY_LIMITS` expects, as both checks say it: "a whole number of ms from 100 to 60000". */
export function limitText(name: keyof typeof POLICY_LIMITS, unit = ''): string {
  const { min, max } = POLICY_LIMITS[name];
  return `a whole number${unit} from ${min} to ${max}`;
}
const LITERAL_SECRET = /^whsec_[A-Za-z0-9+/=]{24,}$/;
const ENV_SECRET = /^env:[A-Za-z_][A-Za-z0-9_]*$/;
const ENV_URL = /^env:[A-Za-z_][A-Za-z0-9_]*$/;
const KEYS = [
  'id',
  'description',
  'enabled',
  'match',
  'target',
  'endpoint',
  'revoke',
  'body',
  'dryRun',
  'maxPerMinute',
  'retry',
  'batchMs',
];
/** A notify URL as the API shows it: origin, then a fingerprint of the whole URL. */
const REDACTED_URL = /^https?:\/\/[^/\s]+\/…[0-9a-f]{12}$/;

/** Fields of a policy as the API shows it, accepted (and ignored) so that a policy read can be sent back. */
const SHOWN_ONLY = ['source', 'state', 'requests'];

/**
 * Validates a policy as written in the policies file or sent to the API and fills in defaults.
 * Throws InvalidInputError `invalid_policy` naming the field, what it expects and what it got.
 * `stored`: the policy comes from `responder_policies`, where secrets may be encrypted.
 */
export function parsePolicy(input: unknown, source: PolicySource, options: { stored?: boolean } = {}): Policy {
  const o = object(input, 'policy');
  for (const k of Object.keys(o)) {
    if (!KEYS.includes(k) && !SHOWN_ONLY.includes(k)) bad(k, `one of the fields ${KEYS.join(', ')}`, k);
  }
  const id = o.id;
  if (typeof id !== 'string' || !POLICY_ID.test(id)) bad('id', 'letters, digits, - and _ (up to 64, starting with a letter or digit)', id);
  const match = object(o.match ?? {}, 'match');
  const endpoint = object(o.endpoint, 'endpoint');
  const target =
    optional<PolicyTarget>(o.target, 'target', POLICY_TARGETS.join(', '), (v) => POLICY_TARGETS.includes(v as PolicyTarget)) ?? 'revoke';
  const url = endpoint.url;
  if (target === 'notify') {
    const sealed = options.stored === true && typeof url === 'string' && isSealed(sealedPart(url));
    if (typeof url !== 'string' || !(sealed || ENV_URL.test(url) || REDACTED_URL.test(url) || /^https?:\/\/[^\s]+$/i.test(url))) {
      // The URL is a secret: never quoted back.
      bad('endpoint.url', 'an http(s) incoming-webhook URL or env:VARIABLE', typeof url === 'string' ? redactUrl(url) : url);
    }
  } else if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) bad('endpoint.url', 'an http(s) URL', url);
  const secrets = target === 'notify' && endpoint.secrets === undefined ? [] : endpoint.secrets;
  if (target === 'notify') {
    if (!Array.isArray(secrets) || secrets.length > 0) bad('endpoint.secrets', 'none for a notify policy (its URL is the secret)', '…');
  } else if (!Array.isArray(secrets) || secrets.length < 1 || secrets.length > 2) {
    bad('endpoint.secrets', 'one or two secrets (two while rotating)', secrets);
  }
  for (const s of secrets as unknown[]) {
    const sealed = options.stored === true && typeof s === 'string' && isSealed(s);
    if (typeof s !== 'string' || !(sealed || LITERAL_SECRET.test(s) || ENV_SECRET.test(s) || REDACTED.test(s))) {
      bad('endpoint.secrets', 'whsec_ followed by base64 (at least 24 characters), or env:VARIABLE', redactSecret(String(s)));
    }
  }
  const policy: Policy = {
    id: id as string,
    description: optional<string>(o.description, 'description', 'a string', (v) => typeof v === 'string') ?? '',
    enabled: optional<boolean>(o.enabled, 'enabled', 'true or false', (v) => typeof v === 'boolean') ?? true,
    match: {},
    target,
    endpoint: { url: url as string, secrets: secrets as string[] },
    revoke: optional<RevokeMode>(o.revoke, 'revoke', REVOKE_MODES.join(', '), (v) => REVOKE_MODES.includes(v as RevokeMode)) ?? 'session',
    body: optional<BodyFormat>(o.body, 'body', BODY_FORMATS.join(', '), (v) => BODY_FORMATS.includes(v as BodyFormat)) ?? 'standard',
    dryRun: optional<boolean>(o.dryRun, 'dryRun', 'true or false', (v) => typeof v === 'boolean') ?? false,
    maxPerMinute: optional<number>(o.maxPerMinute, 'maxPerMinute', limitText('maxPerMinute'), (v) => within(v, 'maxPerMinute')) ?? 10,
    source,
  };
  const timeoutMs = optional<number>(endpoint.timeoutMs, 'endpoint.timeoutMs', limitText('timeoutMs', ' of ms'), (v) =>
    within(v, 'timeoutMs'),
  );
  if (timeoutMs !== undefined) policy.endpoint.timeoutMs = timeoutMs;
  const batchMs = optional<number>(o.batchMs, 'batchMs', limitText('batchMs', ' of ms'), (v) => within(v, 'batchMs'));
  if (batchMs !== undefined) {
    if (target !== 'notify') bad('batchMs', 'nothing (batchMs is for notify policies)', batchMs);
    policy.batchMs = batchMs;
  }
  const list = (name: keyof PolicyMatch, check: (v: string) => boolean, expected: string): string[] | undefined => {
    const v = match[name];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && check(x))) bad(`match.${name}`, `an array of ${expected}`, v);
    return v as string[];
  };
  const detectors = list('detectors', (v) => /^[a-z][a-z0-9_]*$/.test(v), 'detector ids');
  const severities = list('severities', (v) => SEVERITIES.includes(v as Severity), SEVERITIES.join(' | '));
  const environments = list('environments', (v) => v.length > 0, 'environment names');
  const agents = list('agents', (v) => v.length > 0, 'agent ids or globs');
  const minSeverity = optional<Severity>(match.minSeverity, 'match.minSeverity', SEVERITIES.join(', '), (v) =>
    SEVERITIES.includes(v as Severity),
  );
  for (const k of Object.keys(match)) {
    if (!['detectors', 'severities', 'minSeverity', 'environments', 'agents'].includes(k)) {
      bad(`match.${k}`, 'one of detectors, severities, minSeverity, environments, agents', k);
    }
  }
  if (detectors) policy.match.detectors = detectors;
  if (severities) policy.match.severities = severities as Severity[];
  if (minSeverity) policy.match.minSeverity = minSeverity;
  if (environments) policy.match.environments = environments;
  if (agents) policy.match.agents = agents;
  if (o.retry !== undefined) {
    const r = object(o.retry, 'retry');
    const retry: Partial<RetrySettings> = {};
    const maxAttempts = optional<number>(r.maxAttempts, 'retry.maxAttempts', limitText('maxAttempts'), (v) => within(v, 'maxAttempts'));
    const baseDelayMs = optional<number>(r.baseDelayMs, 'retry.baseDelayMs', limitText('baseDelayMs', ' of ms'), (v) =>
      within(v, 'baseDelayMs'),
    );
    const maxDelayMs = optional<number>(r.maxDelayMs, 'retry.maxDelayMs', limitText('maxDelayMs', ' of ms'), (v) =>
      within(v, 'maxDelayMs'),
    );
    if (maxAttempts !== undefined) retry.maxAttempts = maxAttempts;
    if (baseDelayMs !== undefined) retry.baseDelayMs = baseDelayMs;
    if (maxDelayMs !== undefined) retry.maxDelayMs = maxDelayMs;
    policy.retry = retry;
  }
  return policy;
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

function sealedPart(stored: string): string {
  const i = stored.indexOf('|');
  return i > 0 ? stored.slice(i + 1) : stored;
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

function object(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(name, 'an object', v);
  return v as Record<string, unknown>;
}

function optional<T>(v: unknown, name: string, expected: string, ok: (v: unknown) => boolean): T | undefined {
  if (v === undefined || v === null) return undefined;
  if (!ok(v)) bad(name, expected, v);
  return v as T;
}

function within(v: unknown, name: keyof typeof POLICY_LIMITS): boolean {
  const { min, max } = POLICY_LIMITS[name];
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function bad(field: string, expected: string, got: unknown): never {
  throw new InvalidInputError('invalid_policy', `${field}: expected ${expected}, got ${JSON.stringify(got) ?? 'nothing'}`);
}
