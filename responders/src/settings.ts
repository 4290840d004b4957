import path from 'node:path';
import {
  type CoreSettings,
  SecretKey,
  type SettingsOf,
  ConfigError,
  defineSettings,
  optionalString,
  positiveInt,
  url,
} from '@intentwatch/core';
import { z } from 'zod';

/** 32 bytes as 64 hex digits or base64 (standard or URL-safe, padding optional). */
const secretsKey = optionalString.transform((v, ctx): SecretKey | undefined => {
  if (v === undefined) return undefined;
  let bytes: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(v)) bytes = Buffer.from(v, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(v)) bytes = Buffer.from(v.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
  if (bytes?.length !== 32) {
    ctx.addIssue({ code: 'custom', message: '32 random bytes as 64 hex digits or base64 (e.g. from openssl rand -base64 32)' });
    return z.NEVER;
  }
  return new SecretKey(bytes);
});

/** The responders' settings: revoke webhooks, Shared Signals, the chat notifier and the demo webhook. */
export const responderVariables = z.object({
  /** JSON file of revoke policies, read at start-up; unset: policies come from the API alone. @default unset */
  INTENTWATCH_POLICIES_FILE: optionalString,
  /** Hosts, addresses and CIDRs webhook endpoints may reach over plain http or at a private address. @default unset */
  INTENTWATCH_WEBHOOK_ALLOW: optionalString.transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ),
  /** Per-request timeout of a webhook delivery, unless a policy sets its own. @default 5000 */
  INTENTWATCH_WEBHOOK_TIMEOUT_MS: positiveInt(5000, 100),
  /** Attempts of a delivery before it is dead-lettered, unless a policy sets its own. @default 10 */
  INTENTWATCH_WEBHOOK_MAX_ATTEMPTS: positiveInt(10, 1),
  /**
   * How often the responder looks for new or changed alerts on a ClickHouse server; on the embedded
   * store its writes wake it, and it looks every max(this, 5000) ms besides. @default 250
   */
  INTENTWATCH_RESPONDER_POLL_MS: positiveInt(250, 20),
  /** AES-256-GCM key webhook signing secrets given through the API are stored under. @default unset */
  INTENTWATCH_SECRETS_KEY: secretsKey,
  /** The Shared Signals transmitter's issuer. @default INTENTWATCH_PUBLIC_URL */
  INTENTWATCH_SSF_ISSUER: url(['https:', 'http:']).refine((v) => v === undefined || (!v.includes('?') && !v.includes('#')), {
    message: 'a URL with no query or fragment (the Shared Signals issuer)',
  }),
  /** How long a replaced signing key stays in the JWKS after a rotation. @default 86400 */
  INTENTWATCH_SSF_KEY_OVERLAP_S: positiveInt(86_400, 0),
  /** A stream's inactivity_timeout; 0: never. @default 0 */
  INTENTWATCH_SSF_INACTIVITY_TIMEOUT_S: positiveInt(0, 0),
  /** A Slack-compatible incoming webhook that gets a message per burst of alerts (a secret). @default unset */
  INTENTWATCH_NOTIFY_WEBHOOK: url(['https:', 'http:']),
  /** Least severity the chat notifier sends. @default high */
  INTENTWATCH_NOTIFY_MIN_SEVERITY: z
    .enum(['low', 'medium', 'high', 'critical'], { error: 'one of low, medium, high, critical' })
    .default('high'),
  /** Most chat messages a minute. @default 6 */
  INTENTWATCH_NOTIFY_MAX_PER_MINUTE: positiveInt(6, 1),
  /** How long the chat notifier gathers a burst of alerts into one message. @default 5000 */
  INTENTWATCH_NOTIFY_BATCH_MS: positiveInt(5000, 0),
  /** A ready-made policy that revokes the session of every high or critical alert. @default unset */
  INTENTWATCH_DEMO_WEBHOOK: url(['http:', 'https:']),
  /** The demo webhook's Standard Webhooks secret. @default unset */
  INTENTWATCH_DEMO_WEBHOOK_SECRET: optionalString.refine((v) => v === undefined || /^whsec_[A-Za-z0-9+/=]{24,}$/.test(v), {
    message: 'a Standard Webhooks secret: whsec_ followed by at least 24 base64 characters',
  }),
});

function resolve(e: z.output<typeof responderVariables>, core: Pick<CoreSettings, 'publicUrl'>) {
  if (e.INTENTWATCH_DEMO_WEBHOOK && !e.INTENTWATCH_DEMO_WEBHOOK_SECRET) {
    throw new ConfigError('INTENTWATCH_DEMO_WEBHOOK_SECRET: expected a whsec_ secret together with INTENTWATCH_DEMO_WEBHOOK');
  }
  const notify = e.INTENTWATCH_NOTIFY_WEBHOOK
    ? {
        url: e.INTENTWATCH_NOTIFY_WEBHOOK,
        minSeverity: e.INTENTWATCH_NOTIFY_MIN_SEVERITY,
        maxPerMinute: e.INTENTWATCH_NOTIFY_MAX_PER_MINUTE,
        batchMs: e.INTENTWATCH_NOTIFY_BATCH_MS,
      }
    : undefined;
  const demoWebhook =
    e.INTENTWATCH_DEMO_WEBHOOK && e.INTENTWATCH_DEMO_WEBHOOK_SECRET
      ? { url: e.INTENTWATCH_DEMO_WEBHOOK, secret: e.INTENTWATCH_DEMO_WEBHOOK_SECRET }
      : undefined;
  return {
    /** Revoke webhooks, Shared Signals and the chat notifier (responders/). */
    responders: {
      /** JSON file of revoke policies, read at start-up (`INTENTWATCH_POLICIES_FILE`); unset: policies come from the API alone. */
      ...(e.INTENTWATCH_POLICIES_FILE ? { policiesFile: path.resolve(e.INTENTWATCH_POLICIES_FILE) } : {}),
      /**
       * Hosts (`broker.internal`, `*.corp.example`), addresses and CIDRs (`10.1.0.0/16`) that webhook
       * endpoints may reach over plain http or at a private, loopback or link-local address.
       */
      webhookAllow: e.INTENTWATCH_WEBHOOK_ALLOW,
      /** Per-request timeout of a webhook delivery, unless a policy sets its own. */
      timeoutMs: e.INTENTWATCH_WEBHOOK_TIMEOUT_MS,
      /** Attempts of a delivery before it is dead-lettered, unless a policy sets its own. */
      maxAttempts: e.INTENTWATCH_WEBHOOK_MAX_ATTEMPTS,
      /** How often the responder looks for new or changed alerts on a ClickHouse server (the embedded store: see Trigger). */
      pollMs: e.INTENTWATCH_RESPONDER_POLL_MS,
      /** `INTENTWATCH_DEMO_WEBHOOK` (+ `_SECRET`): a ready-made policy that revokes the session of every high or critical alert. */
      ...(demoWebhook ? { demoWebhook } : {}),
      /**
       * `INTENTWATCH_SECRETS_KEY`: the AES-256-GCM key that webhook signing secrets given through the
       * API are stored under. Unset: the API takes only `env:NAME` references.
       */
      ...(e.INTENTWATCH_SECRETS_KEY ? { secretsKey: e.INTENTWATCH_SECRETS_KEY } : {}),
      /**
       * `INTENTWATCH_SSF_ISSUER`: the Shared Signals transmitter's issuer (the `iss` of every SET and
       * the base of its endpoint URLs). Default: the public URL (`http://<HOST>:<API_PORT>`).
       */
      ssfIssuer: e.INTENTWATCH_SSF_ISSUER ? e.INTENTWATCH_SSF_ISSUER.replace(/\/+$/, '') : core.publicUrl,
      /** `INTENTWATCH_SSF_KEY_OVERLAP_S`: how long a replaced signing key stays in the JWKS after a rotation. */
      ssfKeyOverlapS: e.INTENTWATCH_SSF_KEY_OVERLAP_S,
      /**
       * `INTENTWATCH_SSF_INACTIVITY_TIMEOUT_S`: a stream's `inactivity_timeout` (SSF 1.0 §8.1.1): a
       * stream whose receiver neither polls it nor calls a management endpoint about it for this
       * long is paused, after a stream-updated event tells the receiver. 0: never.
       */
      ssfInactivityTimeoutS: e.INTENTWATCH_SSF_INACTIVITY_TIMEOUT_S,
      /** `INTENTWATCH_PUBLIC_URL` (a core setting): where people and receivers reach the API and web UI. */
      publicUrl: core.publicUrl,
      /**
       * `INTENTWATCH_NOTIFY_WEBHOOK` (+ `_MIN_SEVERITY`, `_MAX_PER_MINUTE`, `_BATCH_MS`): a
       * Slack-compatible incoming webhook that gets a message per burst of alerts. The URL is a
       * secret (it carries the token): read from the environment only, never stored or logged.
       */
      ...(notify ? { notify } : {}),
    },
  };
}

export const responderSettings = defineSettings(responderVariables, resolve);

/** The responders' part of the configuration (see {@link responderVariables}). */
export type ResponderSettings = SettingsOf<typeof responderSettings>;
/** `config.responders`: what the responders read. */
export type ResponderConfig = ResponderSettings['responders'];
