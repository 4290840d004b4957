/**
 * What a revoke or notify policy may hold, in zod, written once: `PolicyDocument` is what
 * `parsePolicy` validates a policy with (the policies file, `PUT`/`POST` bodies, stored rows), and
 * `NewPolicyInput` / `PolicyReplacementInput` are the request bodies the API validates first and
 * documents in its OpenAPI description, with tighter text limits. Both are built from the same
 * fields below: the ranges of POLICY_LIMITS, the id, the enumerations, the forms of secrets.
 */
import { SEVERITIES } from '@intentwatch/alerts';
import { z } from 'zod';
import { isSealed } from './secret-box.js';

/** What a revoke asks the broker to cut off (RevokeMode). */
export const REVOKE_MODES = ['token', 'session', 'chain'] as const;

/** `standard`: `{type, timestamp, data}`. `caep`: a SET-like CAEP `session-revoked` event. */
export const BODY_FORMATS = ['standard', 'caep'] as const;

/** What a policy does with the alerts it matches (PolicyTarget): a signed revoke request, or a chat message. */
export const POLICY_TARGETS = ['revoke', 'notify'] as const;

/** A policy id: letters, digits, `-` and `_`, up to 64, starting with a letter or digit. */
export const POLICY_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** The ranges of a policy's numbers, stated once for `PolicyDocument` and the API's schema. */
export const POLICY_LIMITS = {
  maxPerMinute: { min: 1, max: 10_000 },
  timeoutMs: { min: 100, max: 60_000 },
  batchMs: { min: 0, max: 600_000 },
  maxAttempts: { min: 1, max: 50 },
  baseDelayMs: { min: 1, max: 3_600_000 },
  maxDelayMs: { min: 1, max: 86_400_000 },
} as const;

/** What a number of `POLICY_LIMITS` expects: "a whole number of ms from 100 to 60000". */
export function limitText(name: keyof typeof POLICY_LIMITS, unit = ''): string {
  const { min, max } = POLICY_LIMITS[name];
  return `a whole number${unit} from ${min} to ${max}`;
}

/** The fields a policy may have. */
const POLICY_FIELDS = [
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
] as const;

/** The fields of a policy's `match`. */
const MATCH_FIELDS = ['detectors', 'severities', 'minSeverity', 'environments', 'agents'] as const;

/** Free text of at most `max` characters, without control characters. */
const text = (max: number, what = 'text') =>
  z
    .string()
    .max(max, `at most ${max} characters`)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    .regex(/^[^\u0000-\u001f\u007f]*$/, `${what} without control characters`);

const DETECTOR_ID = /^[a-z][a-z0-9_]{0,63}$/;
const detectorId = z.string().regex(DETECTOR_ID, 'a detector id such as scope_creep (lower-case letters, digits, _)');

/** One of `values`; anything else is told all of them. */
const oneOf = <const T extends readonly [string, ...string[]]>(values: T, separator = ', ') =>
  z.enum(values, { error: values.join(separator) });

const SeveritySchema = oneOf(SEVERITIES);
const RevokeModeSchema = oneOf(REVOKE_MODES);
/** `revoke` or `notify`. */
export const PolicyTargetSchema = oneOf(POLICY_TARGETS);
const BodyFormatSchema = oneOf(BODY_FORMATS);
const flag = z.boolean({ error: 'true or false' });

const POLICY_ID_TEXT = 'letters, digits, - and _ (up to 64, starting with a letter or digit)';
/** A policy id as a client names a new one. */
export const policyIdSchema = z.string({ error: POLICY_ID_TEXT }).regex(POLICY_ID, POLICY_ID_TEXT);

/** A number of POLICY_LIMITS; anything else is told its range. */
const limit = (name: keyof typeof POLICY_LIMITS, unit = '') =>
  z
    .number({ error: limitText(name, unit) })
    .int(limitText(name, unit))
    .min(POLICY_LIMITS[name].min, limitText(name, unit))
    .max(POLICY_LIMITS[name].max, limitText(name, unit));

const SECRET_FORMS = /^(whsec_[A-Za-z0-9+/=]{24,}|env:[A-Za-z_][A-Za-z0-9_]*|whsec_…[0-9a-f]{12})$/;
const SECRET_TEXT = 'whsec_ followed by base64 (at least 24 characters), env:VARIABLE, or the whsec_…<fingerprint> the API shows';

/** A signing secret as a client sends it. A malformed one is never quoted back, even in a 400. */
const SecretInput = z
  .string()
  .superRefine((v, ctx) => {
    if (!SECRET_FORMS.test(v)) {
      ctx.addIssue({
        code: 'custom',
        message: SECRET_TEXT,
        input: '(not shown)',
      });
    }
  })
  .meta({
    pattern: SECRET_FORMS.source,
    description:
      'A whsec_… secret (stored encrypted; refused unless INTENTWATCH_SECRETS_KEY is set), env:NAME (read from the environment of the processes that deliver), or the whsec_…<fingerprint> the API shows, which keeps the secret the policy has',
  });

const matchFields = {
  detectors: z.array(detectorId).max(100).optional().meta({ description: 'Detector ids; empty or absent: any' }),
  severities: z.array(SeveritySchema).optional().meta({ description: 'Exact severities' }),
  minSeverity: SeveritySchema.optional(),
  environments: z.array(text(200).min(1, 'not empty')).max(100).optional(),
  agents: z.array(text(200).min(1, 'not empty')).max(100).optional().meta({ description: 'Agent ids or globs (triage-*)' }),
};

const retryFields = {
  maxAttempts: limit('maxAttempts')
    .optional()
    .meta({ description: 'Attempts before dead-lettering (default INTENTWATCH_WEBHOOK_MAX_ATTEMPTS)' }),
  baseDelayMs: limit('baseDelayMs', ' of ms').optional().meta({ description: 'First retry after about this long; doubles each attempt' }),
  maxDelayMs: limit('maxDelayMs', ' of ms').optional().meta({ description: 'Longest wait between attempts' }),
};

const URL_FORMS = /^(https?:\/\/\S+|env:[A-Za-z_][A-Za-z0-9_]*)$/i;

/** The fields of a policy as a client sends it (all but `id`). */
export const PolicyInputFields = {
  description: text(2000).optional(),
  target: PolicyTargetSchema.optional().meta({
    description:
      'revoke (default): a signed revoke request to endpoint. notify: a human-readable chat message to the Slack-compatible incoming webhook endpoint.url, batched over batchMs and at most maxPerMinute messages a minute (messages past it wait)',
  }),
  enabled: flag.optional().meta({ description: 'A disabled policy matches nothing and refuses manual revokes (default true)' }),
  match: z.strictObject(matchFields).optional().meta({ description: 'Which alerts the policy acts on; absent: every alert' }),
  endpoint: z.strictObject({
    url: z
      .string()
      .max(2048, 'at most 2048 characters')
      .superRefine((v, ctx) => {
        // A notify policy's URL is a secret: a malformed one is never quoted back.
        if (!URL_FORMS.test(v))
          ctx.addIssue({ code: 'custom', message: 'an http(s) URL, or env:VARIABLE for a notify policy', input: '(not shown)' });
      })
      .meta({
        pattern: URL_FORMS.source,
        description:
          'https to a public address, unless the host is in INTENTWATCH_WEBHOOK_ALLOW. For a notify policy, the Slack-compatible incoming-webhook URL (stored encrypted; refused unless INTENTWATCH_SECRETS_KEY is set), env:NAME, or the <origin>/…<fingerprint> the API shows, which keeps the URL the policy has',
      }),
    secrets: z
      .array(SecretInput)
      .max(2, 'one or two secrets (two while rotating)')
      .optional()
      .meta({ description: 'One or two signing secrets (two while rotating) for a revoke policy; none for a notify policy' }),
    timeoutMs: limit('timeoutMs', ' of ms').optional(),
  }),
  revoke: RevokeModeSchema.optional().meta({ description: 'token, session (default) or chain' }),
  body: BodyFormatSchema.optional().meta({ description: 'standard (default) or caep' }),
  dryRun: flag.optional().meta({ description: 'Record what would be sent, send nothing (default false)' }),
  maxPerMinute: limit('maxPerMinute').optional().meta({
    description: 'Revocations a minute past which the policy pauses (default 10); for notify, messages a minute past which they wait',
  }),
  retry: z.strictObject(retryFields).optional(),
  batchMs: limit('batchMs', ' of ms')
    .optional()
    .meta({ description: 'notify only: alerts matched within this long of the first are one message (default 2000)' }),
  source: z.unknown().optional().meta({ description: 'As a policy read shows it; ignored' }),
  state: z.unknown().optional().meta({ description: 'As a policy read shows it; ignored' }),
  requests: z.unknown().optional().meta({ description: 'As a policy read shows it; ignored' }),
};

/** A policy to create: its id and its fields. */
export const NewPolicyInput = z.strictObject({ id: policyIdSchema, ...PolicyInputFields });

/** A policy to create or replace under the id in the path: the id in the body is optional. */
export const PolicyReplacementInput = z.strictObject({
  id: policyIdSchema.optional().meta({ description: 'The id in the path, if given' }),
  ...PolicyInputFields,
});

// ── the policy parsePolicy reads ─────────────────────────────────────────────────────────────

/** A `match` list of any length, told whole ("an array of detector ids") when any item is wrong. */
const listOf = <T extends z.ZodType<string>>(expected: string, item: (error: string) => T) =>
  z.array(item(`an array of ${expected}`), { error: `an array of ${expected}` });

/** A notify policy's URL as it may be stored: its origin, then the sealed URL (`origin|enc:v1:…`). */
export function sealedPart(stored: string): string {
  const i = stored.indexOf('|');
  return i > 0 ? stored.slice(i + 1) : stored;
}

const ENV_REFERENCE = /^env:[A-Za-z_][A-Za-z0-9_]*$/;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A policy as `parsePolicy` reads it: from the policies file, from the API (after the request
 * schema), or from `responder_policies` when `stored` (where secrets and a notify URL may be
 * sealed). Looser than the request schema where a policies file always was: free text of any
 * length, lists of any length, `null` for an absent scalar, unknown `endpoint` and `retry` fields
 * ignored. Every issue's message says what the field expects.
 */
function policyDocument(stored: boolean) {
  const fields = z.strictObject(
    {
      id: policyIdSchema,
      target: PolicyTargetSchema.nullish(),
      endpoint: z.object(
        { url: z.unknown().optional(), secrets: z.unknown().optional(), timeoutMs: limit('timeoutMs', ' of ms').nullish() },
        { error: 'an object' },
      ),
      description: z.string({ error: 'a string' }).nullish(),
      enabled: flag.nullish(),
      revoke: RevokeModeSchema.nullish(),
      body: BodyFormatSchema.nullish(),
      dryRun: flag.nullish(),
      maxPerMinute: limit('maxPerMinute').nullish(),
      batchMs: limit('batchMs', ' of ms').nullish(),
      match: z
        .strictObject(
          {
            detectors: listOf('detector ids', (error) => z.string({ error }).regex(/^[a-z][a-z0-9_]*$/, error)).optional(),
            severities: listOf(SEVERITIES.join(' | '), (error) => z.enum(SEVERITIES, { error })).optional(),
            environments: listOf('environment names', (error) => z.string({ error }).min(1, error)).optional(),
            agents: listOf('agent ids or globs', (error) => z.string({ error }).min(1, error)).optional(),
            minSeverity: SeveritySchema.nullish(),
          },
          { error: (issue) => (issue.code === 'unrecognized_keys' ? `one of ${MATCH_FIELDS.join(', ')}` : 'an object') },
        )
        .nullish(),
      retry: z
        .object(
          {
            maxAttempts: limit('maxAttempts').nullish(),
            baseDelayMs: limit('baseDelayMs', ' of ms').nullish(),
            maxDelayMs: limit('maxDelayMs', ' of ms').nullish(),
          },
          { error: 'an object' },
        )
        .optional(),
      // As the API shows a policy, accepted (and ignored) so that a policy read can be sent back.
      source: z.unknown().optional(),
      state: z.unknown().optional(),
      requests: z.unknown().optional(),
    },
    { error: (issue) => (issue.code === 'unrecognized_keys' ? `one of the fields ${POLICY_FIELDS.join(', ')}` : 'an object') },
  );
  const sealed = (s: string) => stored && isSealed(s);
  // What depends on the target: the URL, the secrets, batchMs. It runs even when a field is wrong
  // (parsePolicy tells the problems in its own order), so it reads the policy as given; only a
  // number that is not whole stops it (zod's whole-number check ends the object's checks).
  const targetRules = (policy: Record<string, unknown>, ctx: z.RefinementCtx) => {
    if (!isRecord(policy.endpoint)) return;
    /** `secret`: the input is a secret, shown by parsePolicy only as its fingerprint. */
    const problem = (field: string, message: string, input: unknown, secret?: 'url' | 'secret') =>
      ctx.addIssue({ code: 'custom', path: field.split('.'), message, input, ...(secret ? { params: { secret } } : {}) });
    const notify = policy.target === 'notify';
    const { url } = policy.endpoint;
    if (notify) {
      const ok = typeof url === 'string' && (sealed(sealedPart(url)) || ENV_REFERENCE.test(url) || /^https?:\/\/\S+$/i.test(url));
      if (!ok) problem('endpoint.url', 'an http(s) incoming-webhook URL or env:VARIABLE', url, 'url');
    } else if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) {
      problem('endpoint.url', 'an http(s) URL', url);
    }
    const secrets = notify && policy.endpoint.secrets === undefined ? [] : policy.endpoint.secrets;
    if (notify) {
      if (!Array.isArray(secrets) || secrets.length > 0)
        problem('endpoint.secrets', 'none for a notify policy (its URL is the secret)', '…');
    } else if (!Array.isArray(secrets) || secrets.length < 1 || secrets.length > 2) {
      problem('endpoint.secrets', 'one or two secrets (two while rotating)', secrets);
    } else {
      for (const s of secrets as unknown[]) {
        if (typeof s !== 'string' || !(sealed(s) || SECRET_FORMS.test(s))) problem('endpoint.secrets', SECRET_TEXT, String(s), 'secret');
      }
    }
    if (policy.batchMs != null && !notify) problem('batchMs', 'nothing (batchMs is for notify policies)', policy.batchMs);
  };
  return fields.superRefine(targetRules, { when: (payload) => isRecord(payload.value) }).transform((policy) => ({
    ...policy,
    endpoint: {
      url: policy.endpoint.url as string,
      secrets: (policy.target === 'notify' ? (policy.endpoint.secrets ?? []) : policy.endpoint.secrets) as string[],
      timeoutMs: policy.endpoint.timeoutMs,
    },
  }));
}

/** A policy from the policies file or the API, as `parsePolicy` validates it. */
export const PolicyDocument = policyDocument(false);
/** A policy read back from `responder_policies`: its secrets and notify URL may be sealed. */
export const StoredPolicyDocument = policyDocument(true);
