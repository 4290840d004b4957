/**
 * The shapes of the responders' routes (revoke policies, revoke requests and their deliveries,
 * dead letters, OCSF findings), declared as the rest of the API's are (see schemas.ts).
 */
import {
  BODY_FORMATS,
  ENV_NOTIFY_POLICY_ID,
  NewPolicyInput,
  POLICY_ID,
  POLICY_STATES,
  PolicyReplacementInput,
  PolicyTargetSchema,
  REVOCATION_STATUSES,
  REVOKE_MODES,
  policyIdSchema,
} from '@intentwatch/responders';
import { z } from 'zod';
import { AlertDetailSchema, Count, NullableTime, SeveritySchema, Time, named, rfc3339 } from './schemas.js';

// ── policies ────────────────────────────────────────────────────────────────────────────────

const policyId = policyIdSchema;

/**
 * A policy in a path: an id as above, or one the program itself names with a colon — the notify
 * policy `INTENTWATCH_NOTIFY_WEBHOOK` makes (`notify:chat`), which cannot be created through the
 * API but can be read and resumed. Written as is or percent-encoded (`notify%3Achat`).
 */
const pathPolicyId = z
  .string()
  .refine((id) => POLICY_ID.test(id) || id === ENV_NOTIFY_POLICY_ID, {
    message: `letters, digits, - and _ (up to 64, starting with a letter or digit), or ${ENV_NOTIFY_POLICY_ID}`,
  })
  .meta({ description: `A policy id, or ${ENV_NOTIFY_POLICY_ID} (also as notify%3Achat)` });

export const PolicyIdParams = z.strictObject({ id: pathPolicyId });

const RevokeModeSchema = z.enum(REVOKE_MODES);
const BodyFormatSchema = z.enum(BODY_FORMATS);
const RevocationStatusSchema = z.enum(REVOCATION_STATUSES);

/** A signing secret as the API shows it: never the secret itself. */
const SecretShown = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|whsec_…[0-9a-f]{12})$/)
  .meta({ description: 'env:NAME as given, or whsec_… and 12 hex digits of the secret’s SHA-256' });

export const NewPolicyBody = named(
  'NewPolicy',
  NewPolicyInput,
  'A revoke policy to create. A policy read from the API may be sent back as it is: its redacted secrets keep the ones it has.',
);

export const PolicyBody = named(
  'PolicyReplacement',
  PolicyReplacementInput,
  'A revoke policy to create or replace under the id in the path',
);

export const PolicyStateSchema = named(
  'PolicyState',
  z.strictObject({
    state: z
      .enum(POLICY_STATES)
      .meta({ description: 'active; paused (rate limit: held until resumed); disabled (the endpoint answered 410)' }),
    reason: z.string().meta({ description: 'Why it is paused or disabled; empty when active' }),
    since: NullableTime,
    updatedBy: z.string(),
  }),
);

export const PolicySchema = named(
  'Policy',
  z.strictObject({
    id: z.string(),
    description: z.string(),
    enabled: z.boolean(),
    match: z.strictObject({
      detectors: z.array(z.string()).optional(),
      severities: z.array(SeveritySchema).optional(),
      minSeverity: SeveritySchema.optional(),
      environments: z.array(z.string()).optional(),
      agents: z.array(z.string()).optional(),
    }),
    target: PolicyTargetSchema.meta({ description: 'revoke or notify' }),
    endpoint: z.strictObject({
      url: z.string().meta({ description: 'For a notify policy: env:NAME as given, or <origin>/… and 12 hex digits of the URL’s SHA-256' }),
      secrets: z.array(SecretShown),
      timeoutMs: z.number().int().optional(),
    }),
    revoke: RevokeModeSchema,
    body: BodyFormatSchema,
    dryRun: z.boolean(),
    maxPerMinute: z.number().int(),
    batchMs: z.number().int().optional(),
    retry: z
      .strictObject({
        maxAttempts: z.number().int().optional(),
        baseDelayMs: z.number().int().optional(),
        maxDelayMs: z.number().int().optional(),
      })
      .optional(),
    source: z.enum(['file', 'api', 'env']).meta({
      description:
        'The policies file, the API, or the environment (INTENTWATCH_DEMO_WEBHOOK, INTENTWATCH_NOTIFY_WEBHOOK); only api policies change through the API',
    }),
    state: PolicyStateSchema,
    requests: z.partialRecord(RevocationStatusSchema, Count).meta({ description: 'Its revoke requests by status' }),
  }),
  'A revoke policy as the API shows it: no secret values, its state, and its requests by status',
);

export const PolicyListSchema = named('PolicyList', z.strictObject({ policies: z.array(PolicySchema) }));

export const ResumeBody = named(
  'Resume',
  z.strictObject({
    release: z.boolean().optional().meta({ description: 'true: queue the held requests again; otherwise they are discarded' }),
  }),
);

export const ResumedSchema = named(
  'Resumed',
  z.strictObject({ policy: PolicySchema, released: Count, discarded: Count }),
  'The policy, active again, and what became of its held requests',
);

// ── revoke requests ─────────────────────────────────────────────────────────────────────────

export const RevokeBody = named(
  'RevokeRequest',
  z.strictObject({
    policyId: policyId.meta({
      description: 'The policy whose endpoint receives the revoke (its match is skipped; its safety checks are not)',
    }),
    mode: RevokeModeSchema.optional().meta({ description: 'What to revoke; default the policy’s' }),
  }),
);

const revocationFields = {
  webhookId: z.string().meta({ description: 'The webhook-id, the same on every attempt' }),
  policyId: z.string(),
  dedupKey: z.string().meta({
    description:
      'token:<id>: one revoke per token per policy (session:<root> or chain:<origin> on requests made before a revoke became one request per token)',
  }),
  alertId: z.string(),
  mode: RevokeModeSchema,
  tokenId: z.string().meta({ description: 'The token the alert names' }),
  sessionRoot: z.string(),
  tokens: z.array(z.string()).meta({ description: 'Every token the broker is asked to revoke: [token]' }),
  token: z.string().meta({ description: 'The token this request revokes (one request per token)' }),
  relation: z.string().meta({
    description:
      'How token stands to the alert’s token: self, session (its session), delegated (exchanged from its session), delegator (up its delegation chain), chain (elsewhere in the delegation tree)',
  }),
  chain: z.array(z.string()).meta({ description: 'From the session root up the exchanged links to the origin' }),
  dryRun: z.boolean(),
  requestedBy: z.string().meta({ description: 'policy, or analyst:<key name>' }),
  createdAt: Time,
  status: RevocationStatusSchema,
};

export const RevocationSchema = named(
  'Revocation',
  z.strictObject(revocationFields),
  'A revoke request as it was made: queued, or held, disabled… as its policy stands',
);

export const RevokeAcceptedSchema = named(
  'RevokeAccepted',
  z.strictObject({
    // The first request made (the alert's own token's, when it had none yet): the answer before a revoke became one request per token.
    revocation: RevocationSchema,
    revocations: z.array(RevocationSchema).meta({
      description: 'Every request made, one per token of the lineage (tokens that already had one under the policy are left out)',
    }),
  }),
);

export const DeliveryAttemptSchema = named(
  'DeliveryAttempt',
  z.strictObject({
    attempt: z.number().int().min(1),
    status: z.enum(['delivered', 'failed', 'dead', 'gone', 'refused', 'dry_run', 'held']),
    httpStatus: z.number().int().meta({ description: '0 when no response came' }),
    latencyMs: Count,
    error: z.string(),
    endpoint: z.string().meta({ description: 'Origin and path of the endpoint (never its query string)' }),
    nextAttemptAt: NullableTime.meta({ description: 'When the next attempt is due, for a failed attempt that will be retried' }),
    time: Time,
  }),
);

export const DeliverySchema = named(
  'Delivery',
  z.strictObject({
    ...revocationFields,
    payload: z.string().meta({ description: 'The body sent on every attempt (or that a dry run would send)' }),
    attempts: Count,
    lastError: z.string(),
    updatedAt: Time,
    attemptLog: z.array(DeliveryAttemptSchema),
  }),
  'A revoke request and every attempt to deliver it',
);

export const DeliveryListSchema = named(
  'DeliveryList',
  z.strictObject({ deliveries: z.array(DeliverySchema).meta({ description: 'Newest request first' }) }),
);

export const DeadLettersQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,4}$/, 'a whole number from 1 to 1000')
    .transform(Number)
    .pipe(z.number().int().min(1, 'a whole number from 1 to 1000').max(1000, 'a whole number from 1 to 1000'))
    .optional()
    .meta({ description: 'How many, newest first (default 100)' }),
});

export const DeadLetterSchema = named(
  'DeadLetter',
  z.strictObject({
    webhookId: z.string(),
    policyId: z.string(),
    alertId: z.string(),
    attempts: Count,
    lastHttpStatus: z.number().int(),
    lastError: z.string(),
    payload: z.string(),
    time: Time,
  }),
  'A delivery that failed its last attempt, with its body for replay',
);

export const DeadLetterListSchema = named('DeadLetterList', z.strictObject({ deadLetters: z.array(DeadLetterSchema) }));

// ── OCSF ────────────────────────────────────────────────────────────────────────────────────

const EpochMs = z.number().int().meta({ description: 'Epoch milliseconds' });
const OcsfNamed = z.strictObject({ uid: z.string(), name: z.string().optional() });

export const OcsfFindingSchema = named(
  'OcsfDetectionFinding',
  z.strictObject({
    class_uid: z.literal(2004),
    class_name: z.literal('Detection Finding'),
    category_uid: z.literal(2),
    category_name: z.literal('Findings'),
    activity_id: z.union([z.literal(1), z.literal(2), z.literal(3)]).meta({ description: '1 Create, 2 Update, 3 Close' }),
    activity_name: z.string(),
    type_uid: z.number().int().meta({ description: '200400 + activity_id' }),
    type_name: z.string(),
    severity_id: z.number().int(),
    severity: z.string(),
    status_id: z.number().int(),
    status: z.string(),
    time: EpochMs.meta({ description: 'The moment of this activity' }),
    start_time: EpochMs,
    end_time: EpochMs,
    count: Count,
    message: z.string(),
    is_alert: z.boolean(),
    metadata: z.strictObject({
      version: z.string(),
      product: z.strictObject({ name: z.string(), vendor_name: z.string(), version: z.string() }),
      uid: z.string(),
      log_name: z.string(),
      original_time: Time,
    }),
    finding_info: z.strictObject({
      uid: z.string().meta({ description: 'The alert id' }),
      title: z.string(),
      desc: z.string(),
      created_time: EpochMs,
      modified_time: EpochMs,
      first_seen_time: EpochMs,
      last_seen_time: EpochMs,
      types: z.array(z.string()).meta({ description: 'The detector and its OWASP ids' }),
      attacks: z.array(
        z.strictObject({
          technique: OcsfNamed,
          sub_technique: OcsfNamed.optional(),
          tactic: z.strictObject({ uid: z.string(), name: z.string() }).optional(),
        }),
      ),
      analytic: z.strictObject({ uid: z.string(), name: z.string(), type_id: z.literal(1), type: z.literal('Rule') }),
      data_sources: z.array(z.string()),
    }),
    evidences: z.array(z.strictObject({ data: z.strictObject({ trace_id: z.string(), span_id: z.string(), time: Time }) })),
    resources: z.array(z.strictObject({ name: z.string(), type: z.string() })),
    actor: z.strictObject({
      user: z.strictObject({ uid: z.string(), name: z.string(), type_id: z.literal(99), type: z.string() }),
      app_name: z.string(),
      session: z
        .strictObject({ uid: z.string(), credential_uid: z.string() })
        .meta({ description: 'The token’s session (root token) and the token' }),
    }),
    unmapped: z.strictObject({
      token_id: z.string(),
      root_token_id: z.string(),
      delegation_chain: z.array(z.string()).meta({ description: 'From the session root up the exchanged links to the origin grant' }),
      task_id: z.string(),
      environment: z.string(),
      frameworks: z.array(z.string()),
      intentwatch_status: z.string(),
    }),
  }),
  'An alert as an OCSF 1.8.0 Detection Finding (class 2004)',
);

export const AlertQuery = z.strictObject({
  format: z.enum(['json', 'ocsf']).optional().meta({
    description:
      'json (default): the alert with its evidence resolved; ocsf: an OCSF Detection Finding (where the deployment runs responders)',
  }),
});

export const AlertAnswerSchema = named(
  'AlertOrOcsfFinding',
  z.union([AlertDetailSchema, OcsfFindingSchema]),
  'The alert (format=json) or the alert as an OCSF Detection Finding (format=ocsf)',
);

export const OcsfExportQuery = z.strictObject({
  since: rfc3339.optional().meta({ description: 'Alerts changed (by detection or triage) at or after this time; default: every alert' }),
});
