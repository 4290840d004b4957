import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';

export const API_ROLES = ['viewer', 'analyst', 'admin'] as const;
export type ApiRole = (typeof API_ROLES)[number];

export interface ApiKeySpec {
  role: ApiRole;
  key: string;
}

/**
 * What one ingest request may contain, enforced while it is decoded (collector/src/limits.ts):
 * past any of these the request is refused with 413. Items are spans (OTLP) or events (the JSON
 * event endpoints); groups are ResourceSpans and ScopeSpans together.
 */
export interface IngestLimits {
  /** Spans per OTLP request, events per JSON event request. */
  maxItemsPerRequest: number;
  /** ResourceSpans plus ScopeSpans per request. */
  maxGroupsPerRequest: number;
  /** Attributes read on one span, resource or event (INTENTWATCH_MAX_ATTRIBUTES of them are kept). */
  maxAttributesPerItem: number;
  /** Attributes plus every array and key-value list item nested in them, on one span, resource or event. */
  maxValuesPerItem: number;
  /** Items of one array or key-value list. */
  maxListItems: number;
  /** Length of one string, key or value (bytes in protobuf, characters in JSON). */
  maxStringLength: number;
  /** Nesting of attribute values (an array in an array is 2). Past 8 levels values are stored as text. */
  maxDepth: number;
}

/**
 * Far above what an OpenTelemetry SDK or Collector sends (a Collector batch is typically at most
 * 8,192 spans; the SDK keeps 128 attributes a span), and low enough to bound what a hostile body
 * costs: the maximal request they allow decodes in about a second of CPU, yielding to the event
 * loop as it goes (see BENCHMARKS.md, hostile load).
 */
export const DEFAULT_INGEST_LIMITS: Readonly<IngestLimits> = Object.freeze({
  maxItemsPerRequest: 65_536,
  maxGroupsPerRequest: 16_384,
  maxAttributesPerItem: 2048,
  maxValuesPerItem: 65_536,
  maxListItems: 8192,
  maxStringLength: 1024 * 1024,
  maxDepth: 32,
});

const port = (fallback: number) =>
  z.coerce
    .number({ error: 'a port number' })
    .int('a whole number')
    .min(0, 'a port between 0 and 65535')
    .max(65535, 'a port between 0 and 65535')
    .default(fallback);

const positiveInt = (fallback: number, min = 1) =>
  z.coerce.number({ error: 'a whole number' }).int('a whole number').min(min, `at least ${min}`).default(fallback);

const optionalString = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1' || v === 'yes'));

const url = (protocols: string[]) =>
  optionalString.refine(
    (v) => {
      if (v === undefined) return true;
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

const apiKeys = optionalString.transform((v, ctx): ApiKeySpec[] | undefined => {
  if (v === undefined) return undefined;
  const specs: ApiKeySpec[] = [];
  for (const pair of v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = pair.indexOf(':');
    const role = pair.slice(0, at) as ApiRole;
    const key = pair.slice(at + 1);
    if (at < 1 || !API_ROLES.includes(role) || key.length < 16) {
      ctx.addIssue({
        code: 'custom',
        message: `comma-separated role:key pairs with a role of ${API_ROLES.join(', ')} and a key of at least 16 characters (got an entry starting "${pair.slice(0, Math.max(at, 0))}")`,
      });
      return z.NEVER;
    }
    specs.push({ role, key });
  }
  return specs;
});

const keyList = optionalString.transform((v, ctx): string[] | undefined => {
  if (v === undefined) return undefined;
  const keys = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (keys.some((k) => k.length < 16)) {
    ctx.addIssue({ code: 'custom', message: 'comma-separated keys of at least 16 characters each' });
    return z.NEVER;
  }
  return keys;
});

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

/** Every variable the configuration reads, with its validation and default (the README's table is held to it by a test). */
export const configSchema = z.object({
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  OTLP_PORT: port(4318),
  API_PORT: port(8080),
  HEALTH_PORT: port(8081),
  INTENTWATCH_DATA_DIR: z.string().trim().min(1).default('./.intentwatch'),
  CLICKHOUSE_URL: url(['http:', 'https:']),
  CLICKHOUSE_USER: optionalString,
  CLICKHOUSE_PASSWORD: optionalString,
  CLICKHOUSE_DATABASE: z
    .string()
    .trim()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a database name of letters, digits and underscores')
    .optional(),
  CLICKHOUSE_CLUSTER: z
    .string()
    .trim()
    .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'a cluster name as configured in remote_servers')
    .optional(),
  REDIS_URL: url(['redis:', 'rediss:']),
  INTENTWATCH_API_KEYS: apiKeys,
  INTENTWATCH_INGEST_KEYS: keyList,
  DETECT_INTERVAL_MS: positiveInt(1000, 50),
  INTENTWATCH_GRACE_MS: positiveInt(30_000, 0),
  INTENTWATCH_CLOCK_SKEW_MS: positiveInt(30_000, 0),
  INTENTWATCH_MAX_BODY_BYTES: positiveInt(16 * 1024 * 1024, 1024),
  INTENTWATCH_BATCH_ROWS: positiveInt(1000),
  INTENTWATCH_BATCH_MS: positiveInt(200, 1),
  INTENTWATCH_MAX_PENDING_ROWS: positiveInt(200_000, 1000),
  INTENTWATCH_KEEP_CONTEXT_SPANS: bool(true),
  INTENTWATCH_RETENTION_DAYS: positiveInt(30),
  INTENTWATCH_MAX_ATTRIBUTES: positiveInt(128),
  INTENTWATCH_MAX_ATTRIBUTE_LENGTH: positiveInt(4096, 64),
  INTENTWATCH_MAX_SPANS_PER_REQUEST: positiveInt(DEFAULT_INGEST_LIMITS.maxItemsPerRequest),
  INTENTWATCH_MAX_RESOURCES_PER_REQUEST: positiveInt(DEFAULT_INGEST_LIMITS.maxGroupsPerRequest),
  INTENTWATCH_MAX_DECODED_ATTRIBUTES: positiveInt(DEFAULT_INGEST_LIMITS.maxAttributesPerItem),
  INTENTWATCH_MAX_VALUES_PER_SPAN: positiveInt(DEFAULT_INGEST_LIMITS.maxValuesPerItem),
  INTENTWATCH_MAX_ARRAY_ITEMS: positiveInt(DEFAULT_INGEST_LIMITS.maxListItems),
  INTENTWATCH_MAX_STRING_LENGTH: positiveInt(DEFAULT_INGEST_LIMITS.maxStringLength, 64),
  INTENTWATCH_MAX_NESTING_DEPTH: positiveInt(DEFAULT_INGEST_LIMITS.maxDepth),
  INTENTWATCH_SELF_TELEMETRY: bool(false),
  INTENTWATCH_DETECT_LAG_MS: positiveInt(5000, 0),
  INTENTWATCH_DEFAULT_MAX_SESSION_S: positiveInt(86_400),
  INTENTWATCH_ANOMALY_BUCKET_S: positiveInt(60, 1),
  INTENTWATCH_ANOMALY_BASELINE_BUCKETS: positiveInt(60, 3),
  INTENTWATCH_ANOMALY_WARMUP_BUCKETS: positiveInt(10, 1),
  INTENTWATCH_ANOMALY_THRESHOLD: z.coerce.number({ error: 'a number' }).positive('a number above 0').default(3.5),
  INTENTWATCH_API_RATE_LIMIT: positiveInt(600),
  INTENTWATCH_POLICIES_FILE: optionalString,
  INTENTWATCH_ALLOWED_HOSTS: optionalString.transform((v, ctx): string[] => {
    const names = (v ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase().replace(/\.$/, ''))
      .filter(Boolean);
    if (names.some((n) => !/^[a-z0-9.-]{1,253}$/.test(n) && !/^\[[0-9a-f:.]{2,45}\]$/.test(n))) {
      ctx.addIssue({
        code: 'custom',
        message: 'comma-separated host names (monitor.corp.example) or bracketed IPv6 addresses, without ports',
      });
      return z.NEVER;
    }
    return names;
  }),
  INTENTWATCH_WEBHOOK_ALLOW: optionalString.transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ),
  INTENTWATCH_WEBHOOK_TIMEOUT_MS: positiveInt(5000, 100),
  INTENTWATCH_WEBHOOK_MAX_ATTEMPTS: positiveInt(10, 1),
  INTENTWATCH_RESPONDER_POLL_MS: positiveInt(250, 20),
  INTENTWATCH_SECRETS_KEY: secretsKey,
  INTENTWATCH_SSF_ISSUER: url(['https:', 'http:']).refine((v) => v === undefined || (!v.includes('?') && !v.includes('#')), {
    message: 'a URL with no query or fragment (the Shared Signals issuer)',
  }),
  INTENTWATCH_SSF_KEY_OVERLAP_S: positiveInt(86_400, 0),
  INTENTWATCH_SSF_INACTIVITY_TIMEOUT_S: positiveInt(0, 0),
  INTENTWATCH_PUBLIC_URL: url(['https:', 'http:']),
  INTENTWATCH_NOTIFY_WEBHOOK: url(['https:', 'http:']),
  INTENTWATCH_NOTIFY_MIN_SEVERITY: z
    .enum(['low', 'medium', 'high', 'critical'], { error: 'one of low, medium, high, critical' })
    .default('high'),
  INTENTWATCH_NOTIFY_MAX_PER_MINUTE: positiveInt(6, 1),
  INTENTWATCH_NOTIFY_BATCH_MS: positiveInt(5000, 0),
  INTENTWATCH_DEMO_WEBHOOK: url(['http:', 'https:']),
  INTENTWATCH_DEMO_WEBHOOK_SECRET: optionalString.refine((v) => v === undefined || /^whsec_[A-Za-z0-9+/=]{24,}$/.test(v), {
    message: 'a Standard Webhooks secret: whsec_ followed by at least 24 base64 characters',
  }),
});

export interface Config {
  host: string;
  otlpPort: number;
  apiPort: number;
  /** `detectors` role: port of its health and metrics server (the other roles serve these on their own port). */
  healthPort: number;
  /** Absolute path of the data dir: the embedded store and the generated API key live here. */
  dataDir: string;
  clickhouse?: { url: string; user?: string; password?: string; database: string; cluster?: string };
  /** Database the tables live in (`default` embedded unless `CLICKHOUSE_DATABASE` says otherwise). */
  database: string;
  redisUrl?: string;
  apiKeys?: ApiKeySpec[];
  ingestKeys?: string[];
  detectIntervalMs: number;
  /** How long a use may wait for the lifecycle event that explains it. */
  graceMs: number;
  /** Tolerance for clocks that disagree when comparing use time with expiry. */
  clockSkewMs: number;
  maxBodyBytes: number;
  batchRows: number;
  batchMs: number;
  maxPendingRows: number;
  keepContextSpans: boolean;
  retentionDays: number;
  maxAttributes: number;
  maxAttributeLength: number;
  /**
   * Host names besides the loopback's that the ports answer when bound to a loopback address
   * (`INTENTWATCH_ALLOWED_HOSTS`): the public name a reverse proxy on the same machine forwards.
   */
  allowedHosts: string[];
  /** What one ingest request may contain; past any of these it is refused with 413. */
  ingestLimits: IngestLimits;
  /** Allow exporting our own telemetry into this process's own collector port. */
  selfTelemetry: boolean;
  /**
   * Detectors re-read this much before their watermark, so that rows stamped just before a run
   * but committed just after it are never skipped (re-reading is harmless: detection is idempotent).
   */
  detectLagMs: number;
  /** Session limit (`token.max_session_s`) for sessions whose grants name none. */
  defaultMaxSessionS: number;
  /** `usage_anomaly`: bucket size, trailing baseline and warm-up (in buckets), robust-z threshold. */
  anomaly: { bucketS: number; baselineBuckets: number; warmupBuckets: number; threshold: number };
  /** API requests per minute per key (and failed key checks per minute per client address). */
  apiRateLimit: number;
  /** Revoke webhooks (responders/). */
  responders: ResponderConfig;
}

export interface ResponderConfig {
  /** JSON file of revoke policies, read at start-up (`INTENTWATCH_POLICIES_FILE`); unset: policies come from the API alone. */
  policiesFile?: string;
  /**
   * Hosts (`broker.internal`, `*.corp.example`), addresses and CIDRs (`10.1.0.0/16`) that webhook
   * endpoints may reach over plain http or at a private, loopback or link-local address.
   */
  webhookAllow: string[];
  /** Per-request timeout of a webhook delivery, unless a policy sets its own. */
  timeoutMs: number;
  /** Attempts of a delivery before it is dead-lettered, unless a policy sets its own. */
  maxAttempts: number;
  /** How often the responder looks for new or changed alerts. */
  pollMs: number;
  /** `INTENTWATCH_DEMO_WEBHOOK` (+ `_SECRET`): a ready-made policy that revokes the session of every high or critical alert. */
  demoWebhook?: { url: string; secret: string };
  /**
   * `INTENTWATCH_SECRETS_KEY`: the AES-256-GCM key that webhook signing secrets given through the
   * API are stored under. Unset: the API takes only `env:NAME` references.
   */
  secretsKey?: SecretKey;
  /**
   * `INTENTWATCH_SSF_ISSUER`: the Shared Signals transmitter's issuer (the `iss` of every SET and
   * the base of its endpoint URLs). Default `http://<HOST>:<API_PORT>` (127.0.0.1 for a wildcard
   * HOST); set the public https URL the API is reached at.
   */
  ssfIssuer: string;
  /** `INTENTWATCH_SSF_KEY_OVERLAP_S`: how long a replaced signing key stays in the JWKS after a rotation (default one day). */
  ssfKeyOverlapS: number;
  /**
   * `INTENTWATCH_SSF_INACTIVITY_TIMEOUT_S`: a stream's `inactivity_timeout` (SSF 1.0 §8.1.1): a
   * stream whose receiver neither polls it nor calls a management endpoint about it for this
   * long is paused, after a stream-updated event tells the receiver. 0 (default): never.
   */
  ssfInactivityTimeoutS: number;
  /**
   * `INTENTWATCH_PUBLIC_URL`: where people and receivers reach the API and web UI (links in chat
   * messages; the default Shared Signals issuer). Default `http://<HOST>:<API_PORT>`.
   */
  publicUrl: string;
  /**
   * `INTENTWATCH_NOTIFY_WEBHOOK` (+ `_MIN_SEVERITY`, `_MAX_PER_MINUTE`, `_BATCH_MS`): a
   * Slack-compatible incoming webhook that gets a message per burst of alerts. The URL is a
   * secret (it carries the token): read from the environment only, never stored or logged.
   */
  notify?: { url: string; minSeverity: 'low' | 'medium' | 'high' | 'critical'; maxPerMinute: number; batchMs: number };
}

/** The API's own address, as a client on this machine reaches it. */
function defaultIssuer(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/**
 * Key material that stays out of logs and JSON: it prints as `(hidden)`, and `bytes()` is the
 * only way to read it.
 */
export class SecretKey {
  readonly #bytes: Buffer;

  constructor(bytes: Uint8Array) {
    this.#bytes = Buffer.from(bytes);
  }

  bytes(): Buffer {
    return Buffer.from(this.#bytes);
  }

  toJSON(): string {
    return '(hidden)';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'SecretKey (hidden)';
  }
}

/**
 * Reads the configuration from `env` (default `process.env`) once, validates it and returns a
 * frozen object. A `.env` file in the working directory is read first when present (values
 * already in the environment win). Throws a {@link ConfigError} naming every bad variable and
 * the form it expects.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: { dotenv?: boolean } = {}): Readonly<Config> {
  if (options.dotenv !== false && env === process.env && existsSync('.env')) {
    process.loadEnvFile('.env');
  }
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const variable = String(i.path[0] ?? '?');
      const got = env[variable];
      const shown =
        variable.includes('KEY') || variable.includes('PASSWORD') || variable.includes('SECRET') || variable.endsWith('_WEBHOOK')
          ? '(hidden)'
          : JSON.stringify(got);
      return `${variable}: expected ${i.message.replace(/^Invalid input: expected /, '')}, got ${shown}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const database = e.CLICKHOUSE_DATABASE ?? 'default';
  if (e.CLICKHOUSE_CLUSTER && !e.CLICKHOUSE_URL) {
    throw new ConfigError('CLICKHOUSE_CLUSTER: expected together with CLICKHOUSE_URL (a cluster needs a ClickHouse server)');
  }
  const config: Config = {
    host: e.HOST,
    otlpPort: e.OTLP_PORT,
    apiPort: e.API_PORT,
    healthPort: e.HEALTH_PORT,
    dataDir: path.resolve(e.INTENTWATCH_DATA_DIR),
    database,
    detectIntervalMs: e.DETECT_INTERVAL_MS,
    graceMs: e.INTENTWATCH_GRACE_MS,
    clockSkewMs: e.INTENTWATCH_CLOCK_SKEW_MS,
    maxBodyBytes: e.INTENTWATCH_MAX_BODY_BYTES,
    batchRows: e.INTENTWATCH_BATCH_ROWS,
    batchMs: e.INTENTWATCH_BATCH_MS,
    maxPendingRows: e.INTENTWATCH_MAX_PENDING_ROWS,
    keepContextSpans: e.INTENTWATCH_KEEP_CONTEXT_SPANS,
    retentionDays: e.INTENTWATCH_RETENTION_DAYS,
    maxAttributes: e.INTENTWATCH_MAX_ATTRIBUTES,
    maxAttributeLength: e.INTENTWATCH_MAX_ATTRIBUTE_LENGTH,
    ingestLimits: {
      maxItemsPerRequest: e.INTENTWATCH_MAX_SPANS_PER_REQUEST,
      maxGroupsPerRequest: e.INTENTWATCH_MAX_RESOURCES_PER_REQUEST,
      maxAttributesPerItem: e.INTENTWATCH_MAX_DECODED_ATTRIBUTES,
      maxValuesPerItem: e.INTENTWATCH_MAX_VALUES_PER_SPAN,
      maxListItems: e.INTENTWATCH_MAX_ARRAY_ITEMS,
      maxStringLength: e.INTENTWATCH_MAX_STRING_LENGTH,
      maxDepth: e.INTENTWATCH_MAX_NESTING_DEPTH,
    },
    selfTelemetry: e.INTENTWATCH_SELF_TELEMETRY,
    allowedHosts: e.INTENTWATCH_ALLOWED_HOSTS,
    detectLagMs: e.INTENTWATCH_DETECT_LAG_MS,
    defaultMaxSessionS: e.INTENTWATCH_DEFAULT_MAX_SESSION_S,
    anomaly: {
      bucketS: e.INTENTWATCH_ANOMALY_BUCKET_S,
      baselineBuckets: e.INTENTWATCH_ANOMALY_BASELINE_BUCKETS,
      warmupBuckets: e.INTENTWATCH_ANOMALY_WARMUP_BUCKETS,
      threshold: e.INTENTWATCH_ANOMALY_THRESHOLD,
    },
    apiRateLimit: e.INTENTWATCH_API_RATE_LIMIT,
    responders: {
      webhookAllow: e.INTENTWATCH_WEBHOOK_ALLOW,
      timeoutMs: e.INTENTWATCH_WEBHOOK_TIMEOUT_MS,
      maxAttempts: e.INTENTWATCH_WEBHOOK_MAX_ATTEMPTS,
      pollMs: e.INTENTWATCH_RESPONDER_POLL_MS,
      ssfIssuer: (e.INTENTWATCH_SSF_ISSUER ?? e.INTENTWATCH_PUBLIC_URL ?? defaultIssuer(e.HOST, e.API_PORT)).replace(/\/+$/, ''),
      publicUrl: (e.INTENTWATCH_PUBLIC_URL ?? defaultIssuer(e.HOST, e.API_PORT)).replace(/\/+$/, ''),
      ssfKeyOverlapS: e.INTENTWATCH_SSF_KEY_OVERLAP_S,
      ssfInactivityTimeoutS: e.INTENTWATCH_SSF_INACTIVITY_TIMEOUT_S,
    },
  };
  if (e.INTENTWATCH_POLICIES_FILE) config.responders.policiesFile = path.resolve(e.INTENTWATCH_POLICIES_FILE);
  if (e.INTENTWATCH_SECRETS_KEY) config.responders.secretsKey = e.INTENTWATCH_SECRETS_KEY;
  if (e.INTENTWATCH_NOTIFY_WEBHOOK) {
    config.responders.notify = {
      url: e.INTENTWATCH_NOTIFY_WEBHOOK,
      minSeverity: e.INTENTWATCH_NOTIFY_MIN_SEVERITY,
      maxPerMinute: e.INTENTWATCH_NOTIFY_MAX_PER_MINUTE,
      batchMs: e.INTENTWATCH_NOTIFY_BATCH_MS,
    };
  }
  if (e.INTENTWATCH_DEMO_WEBHOOK) {
    if (!e.INTENTWATCH_DEMO_WEBHOOK_SECRET) {
      throw new ConfigError('INTENTWATCH_DEMO_WEBHOOK_SECRET: expected a whsec_ secret together with INTENTWATCH_DEMO_WEBHOOK');
    }
    config.responders.demoWebhook = { url: e.INTENTWATCH_DEMO_WEBHOOK, secret: e.INTENTWATCH_DEMO_WEBHOOK_SECRET };
  }
  if (e.CLICKHOUSE_URL) {
    config.clickhouse = {
      url: e.CLICKHOUSE_URL,
      database,
      ...(e.CLICKHOUSE_USER ? { user: e.CLICKHOUSE_USER } : {}),
      ...(e.CLICKHOUSE_PASSWORD ? { password: e.CLICKHOUSE_PASSWORD } : {}),
      ...(e.CLICKHOUSE_CLUSTER ? { cluster: e.CLICKHOUSE_CLUSTER } : {}),
    };
  }
  if (e.REDIS_URL) config.redisUrl = e.REDIS_URL;
  if (e.INTENTWATCH_API_KEYS) config.apiKeys = e.INTENTWATCH_API_KEYS;
  if (e.INTENTWATCH_INGEST_KEYS) config.ingestKeys = e.INTENTWATCH_INGEST_KEYS;
  return Object.freeze(config);
}
