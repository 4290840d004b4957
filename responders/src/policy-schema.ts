/**
 * A revoke or notify policy as a client sends it, in zod: the one schema the API validates
 * request bodies with and documents in its OpenAPI description. Its ranges are POLICY_LIMITS,
 * which `parsePolicy` (policies file, stored policies) checks as well.
 */
import { SEVERITIES } from '@intentwatch/alerts';
import { z } from 'zod';
import { BODY_FORMATS, POLICY_ID, POLICY_LIMITS, POLICY_TARGETS, REVOKE_MODES, limitText } from './policy.js';

/** Free text of at most `max` characters, without control characters. */
const text = (max: number, what = 'text') =>
  z
    .string()
    .max(max, `at most ${max} characters`)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    .regex(/^[^\u0000-\u001f\u007f]*$/, `${what} without control characters`);

const DETECTOR_ID = /^[a-z][a-z0-9_]{0,63}$/;
const detectorId = z.string().regex(DETECTOR_ID, 'a detector id such as scope_creep (lower-case letters, digits, _)');
const SeveritySchema = z.enum(SEVERITIES);
const RevokeModeSchema = z.enum(REVOKE_MODES);
/** `revoke` or `notify`. */
export const PolicyTargetSchema = z.enum(POLICY_TARGETS);
const BodyFormatSchema = z.enum(BODY_FORMATS);

/** A policy id as a client names a new one. */
export const policyIdSchema = z.string().regex(POLICY_ID, 'letters, digits, - and _ (up to 64, starting with a letter or digit)');

/** A number of POLICY_LIMITS, with the message parsePolicy gives. */
const limit = (name: keyof typeof POLICY_LIMITS, unit = '') =>
  z
    .number()
    .int(limitText(name, unit))
    .min(POLICY_LIMITS[name].min, limitText(name, unit))
    .max(POLICY_LIMITS[name].max, limitText(name, unit));

const SECRET_FORMS = /^(whsec_[A-Za-z0-9+/=]{24,}|env:[A-Za-z_][A-Za-z0-9_]*|whsec_…[0-9a-f]{12})$/;

/** A signing secret as a client sends it. A malformed one is never quoted back, even in a 400. */
const SecretInput = z
  .string()
  .superRefine((v, ctx) => {
    if (!SECRET_FORMS.test(v)) {
      ctx.addIssue({
        code: 'custom',
        message: 'whsec_ followed by base64 (at least 24 characters), env:VARIABLE, or the whsec_…<fingerprint> the API shows',
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
  enabled: z.boolean().optional().meta({ description: 'A disabled policy matches nothing and refuses manual revokes (default true)' }),
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
  dryRun: z.boolean().optional().meta({ description: 'Record what would be sent, send nothing (default false)' }),
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
