/**
 * The shapes the API accepts and returns, as zod schemas. One definition serves three purposes:
 * requests are validated with them (a 400 names the field), the views are typed from them, and
 * the OpenAPI document at `/openapi.json` is generated from them — so the document cannot drift
 * from what the code does. Response schemas are strict: a field the document does not list is
 * a field the API does not send.
 */
import { API_ROLES } from '../settings.js';
import { MAX_ID_LENGTH, STORE_TIME_RANGE, isStorableNanos, rfc3339ToNanos } from '@intentwatch/core';
import { ALERT_SORTS, ALERT_STATUSES, SEVERITIES, SUPPRESSION_SCOPES } from '@intentwatch/alerts';
import { z } from 'zod';

/** Named schemas: each becomes `#/components/schemas/<id>` in the OpenAPI document. */
export const components = z.registry<{ id: string; description?: string }>();

export function named<T extends z.ZodType>(id: string, schema: T, description?: string): T {
  components.add(schema, description ? { id, description } : { id });
  return schema;
}

// ── building blocks ─────────────────────────────────────────────────────────────────────────

/** RFC 3339 as the store writes it (UTC, up to nanoseconds). */
export const Time = z.iso.datetime({ offset: true }).meta({ description: 'RFC 3339 time, UTC, up to nanosecond precision' });
export const NullableTime = Time.nullable();
export const Count = z.number().int().min(0);

export const SeveritySchema = z.enum(SEVERITIES);
export const AlertStatusSchema = z.enum(ALERT_STATUSES);
export const SuppressionScopeSchema = z.enum(SUPPRESSION_SCOPES);
export const RoleSchema = z.enum(API_ROLES);

export const ErrorBody = named(
  'Error',
  z.strictObject({
    error: z.strictObject({
      code: z
        .string()
        .meta({ description: 'Stable, machine-readable: invalid_parameter, invalid_body, unauthenticated, forbidden, not_found, …' }),
      message: z.string().meta({ description: 'What was wrong, naming the field, and what was expected' }),
    }),
  }),
);

export const EvidenceSchema = named(
  'Evidence',
  z.strictObject({ traceId: z.string(), spanId: z.string(), time: Time }),
  'A span (or lifecycle event) that is evidence of an alert',
);

export const NoteSchema = named('Note', z.strictObject({ author: z.string(), time: Time, text: z.string() }));

export const SuppressionSchema = named(
  'Suppression',
  z.strictObject({
    id: z.string(),
    detector: z.string().meta({ description: 'A detector id, or * for every detector' }),
    scope: SuppressionScopeSchema,
    value: z.string().meta({ description: 'The token id (its own alerts and its session), agent id, target service or environment muted' }),
    reason: z.string(),
    author: z.string(),
    createdAt: Time,
    expiresAt: Time,
    deletedAt: NullableTime.meta({ description: 'When it was lifted before its expiry' }),
    deletedBy: z.string().nullable(),
    active: z.boolean().meta({ description: 'In force now: not lifted and not expired' }),
  }),
  'A detector muted for one token, agent, target or environment until an expiry. Muted detections are still recorded and counted.',
);

/** An alert as docs/conventions.md §2.1 defines it, plus the suppression that mutes it. */
const alertFields = {
  id: z.string(),
  detector: z.string(),
  severity: SeveritySchema,
  status: AlertStatusSchema,
  title: z.string(),
  reason: z.string().meta({ description: 'One sentence: the token, its intent, the deviation' }),
  tokenId: z.string(),
  rootTokenId: z.string().meta({ description: 'Root of the token’s session (the issued token its refreshes descend from)' }),
  agentId: z.string(),
  taskId: z.string(),
  caller: z.string(),
  target: z.string(),
  environment: z.string(),
  firstSeen: Time,
  lastSeen: Time,
  count: Count.meta({ description: 'Pieces of evidence (offending spans or events) seen' }),
  evidence: z.array(EvidenceSchema).meta({ description: 'The most recent evidence, newest first' }),
  frameworks: z.array(z.string()).meta({ description: 'OWASP Agentic / OWASP NHI / MITRE identifiers of the detector' }),
  assignee: z.string().nullable(),
  notes: z.array(NoteSchema),
  suppression: SuppressionSchema.nullable().meta({
    description: 'The active suppression that mutes this open alert; null when none does (or the alert is not open)',
  }),
};
export const AlertSchema = named('Alert', z.strictObject(alertFields), 'An alert (docs/conventions.md §2.1)');

export const AlertPageSchema = named(
  'AlertPage',
  z.strictObject({
    alerts: z.array(AlertSchema),
    nextCursor: z.string().nullable().meta({ description: 'Pass as cursor for the next page; null on the last page' }),
  }),
);

const bySeverity = z.strictObject(
  Object.fromEntries(SEVERITIES.map((s) => [s, Count])) as Record<(typeof SEVERITIES)[number], typeof Count>,
);
const byStatus = z.strictObject(
  Object.fromEntries(ALERT_STATUSES.map((s) => [s, Count])) as Record<(typeof ALERT_STATUSES)[number], typeof Count>,
);

export const AlertSummarySchema = named(
  'AlertSummary',
  z.strictObject({
    total: Count,
    byStatus: byStatus.meta({ description: 'Alerts by triage status; open excludes suppressed alerts' }),
    suppressed: Count.meta({ description: 'Open alerts an active suppression mutes' }),
    openBySeverity: bySeverity,
    openByDetector: z.record(z.string(), Count),
  }),
  'How many alerts match the filter, by status, and the open queue by severity and detector',
);

export const UseSchema = named(
  'Use',
  z.strictObject({
    time: Time,
    traceId: z.string(),
    spanId: z.string(),
    name: z.string(),
    tokenId: z.string(),
    taskId: z.string(),
    agentId: z.string(),
    workloadId: z.string(),
    caller: z.string(),
    target: z.string(),
    action: z.string(),
    environment: z.string(),
    scopes: z.array(z.string()),
    resource: z.string(),
    tool: z.string(),
    statusCode: z.number().int().meta({ description: 'OTLP status: 0 unset, 1 ok, 2 error' }),
    alertIds: z.array(z.string()).meta({ description: 'Alerts this use is evidence of' }),
  }),
  'One use of a token, as the collector stored it (docs/conventions.md §1.1)',
);

export const TokenEventSchema = named(
  'TokenEvent',
  z.strictObject({
    event: z.string().meta({ description: 'issued, refreshed, exchanged, renewed or revoked' }),
    time: Time,
    tokenId: z.string(),
    parentId: z.string(),
    taskId: z.string(),
    agentId: z.string().meta({ description: 'The grantee' }),
    workloadId: z.string(),
    audience: z.array(z.string()),
    scopes: z.array(z.string()),
    resources: z.array(z.string()),
    expiresAt: NullableTime,
    maxSessionS: z.number().int().nullable(),
    environment: z.string(),
    revokedReason: z.string(),
    caller: z.string().meta({ description: 'The broker that reported the event' }),
    source: z.string(),
    traceId: z.string(),
    spanId: z.string(),
  }),
  'A token lifecycle event (docs/conventions.md §1.2)',
);

export const TaskSchema = named(
  'Task',
  z.strictObject({
    taskId: z.string(),
    agentId: z.string(),
    intent: z.string(),
    tools: z.array(z.string()),
    deadline: NullableTime,
    startedAt: NullableTime,
    endedAt: NullableTime,
    endEvent: z.string().nullable().meta({ description: 'completed, failed or cancelled' }),
  }),
  'A task as the orchestrator described it (docs/conventions.md §1.3)',
);

export const EvidenceDetailSchema = named(
  'EvidenceDetail',
  z.strictObject({
    traceId: z.string(),
    spanId: z.string(),
    time: Time,
    use: UseSchema.nullable().meta({ description: 'The offending use, resolved from the stored spans' }),
    tokenEvent: TokenEventSchema.nullable().meta({ description: 'The offending lifecycle event, when the evidence is one' }),
    taskEvent: z
      .strictObject({ event: z.string(), time: Time, taskId: z.string(), agentId: z.string() })
      .nullable()
      .meta({ description: 'The task event the evidence points at, when it is one' }),
  }),
);

export const DimensionSchema = named(
  'Dimension',
  z.strictObject({
    granted: z.array(z.string()).meta({ description: 'What the grant allows; empty with restricted=false when it does not restrict this' }),
    restricted: z.boolean(),
    used: z.array(
      z.strictObject({
        value: z.string(),
        count: Count,
        allowed: z.boolean().nullable().meta({ description: 'Within the grant; null when no grant describes the token' }),
      }),
    ),
  }),
  'One side-by-side comparison: what the token was granted for, and what it was used for',
);

export const IntentVsActualSchema = named(
  'IntentVsActual',
  z.strictObject({
    tokenId: z.string(),
    grantKnown: z.boolean(),
    intent: z.string().meta({ description: 'The task intent (free text), when the task is known' }),
    services: DimensionSchema.meta({ description: 'token.audience vs the target services used' }),
    scopes: DimensionSchema.meta({ description: 'token.scopes vs the scopes exercised' }),
    resources: DimensionSchema.meta({ description: 'token.resources (globs) vs the resources touched' }),
    tools: DimensionSchema.meta({ description: 'task.tools vs the tools invoked' }),
    environments: DimensionSchema.meta({ description: 'The environment the token was issued for vs where it was used' }),
    agents: DimensionSchema.meta({ description: 'The grantee vs the agents that presented the token' }),
  }),
);

export const AlertEventSchema = named(
  'AlertEvent',
  z.strictObject({
    time: Time,
    actor: z.string().meta({ description: 'Who: an API key name (key:<role>:<digest>, nothing of the key) or detector:<id>' }),
    action: z.string().meta({ description: 'raised, reopened, status, assigned, note' }),
    fromStatus: z.string(),
    toStatus: z.string(),
    detail: z.string(),
  }),
  'One entry of an alert’s audit trail',
);

export const LifetimeSchema = named(
  'Lifetime',
  z.strictObject({
    issuedAt: NullableTime.meta({ description: 'When this token was granted (issued, refreshed or exchanged)' }),
    expiresAt: NullableTime,
    revokedAt: NullableTime,
    sessionStartedAt: NullableTime.meta({ description: 'Issue time of the session root' }),
    sessionEndsAt: NullableTime.meta({ description: 'Session start plus its limit (token.max_session_s, else the default)' }),
    maxSessionS: z.number().int().nullable(),
    lastRefreshAt: NullableTime.meta({ description: 'The latest refresh in the session' }),
    refreshes: Count,
    taskDeadline: NullableTime,
    taskEndedAt: NullableTime,
    firstUse: NullableTime.meta({ description: 'First use of this token' }),
    lastUse: NullableTime,
  }),
  'A token’s lifetime as granted (expiry, session limit, task) and as lived (uses, refreshes)',
);

export const DetectorGuideSchema = named(
  'DetectorGuide',
  z.strictObject({
    description: z.string(),
    falsePositives: z.array(z.string()).meta({ description: 'Known benign causes to rule out' }),
    runbook: z.array(z.string()).meta({ description: 'What to check, in order' }),
    tuning: z.array(z.string()).meta({ description: 'The settings that change what fires' }),
  }),
  'What the detector looks for and how to work its alerts',
);

export const AlertDetailSchema = named(
  'AlertDetail',
  z.strictObject({
    ...alertFields,
    evidence: z.array(EvidenceDetailSchema),
    history: z.array(AlertEventSchema).meta({ description: 'The audit trail, oldest first' }),
    grant: TokenEventSchema.nullable().meta({ description: 'The grant of the alert’s token' }),
    task: TaskSchema.nullable(),
    intentVsActual: IntentVsActualSchema,
    guide: DetectorGuideSchema.nullable().meta({
      description: 'The detector’s description, false positives, runbook and tuning; null for a detector this build does not know',
    }),
    lifetime: LifetimeSchema.meta({
      description: 'The alert token’s lifetime: what time the grant and the task allowed, and when it was used and refreshed',
    }),
  }),
  'An alert with its evidence resolved, its history, and its token’s intent against its actual use',
);

export const LineageStateSchema = named(
  'LineageState',
  z.strictObject({
    status: z
      .enum(['valid', 'expired', 'revoked', 'revoked_through_session', 'revoked_through_delegator', 'task_ended'])
      .meta({ description: 'The token’s effective state now, by the lineage rules (docs/conventions.md §1.2)' }),
    revokedAt: NullableTime.meta({ description: 'When the revocation in force happened' }),
    revokedBy: z.string().nullable().meta({ description: 'The token whose revoked event ended this token’s authority' }),
    revokedVia: z
      .enum(['self', 'session', 'delegator'])
      .nullable()
      .meta({ description: 'self: its own revocation; session: another token of its session; delegator: a token it was exchanged from' }),
    revokedReason: z.string().nullable(),
    expiresAt: NullableTime.meta({ description: 'The expiry in force: the grant’s, pushed later by renewals' }),
    renewedUntil: NullableTime.meta({ description: 'The latest expiry a renewed event set' }),
  }),
  'A token’s effective state: valid, expired, revoked itself, through its session or through a delegator, or its task ended',
);

export const ChainLinkSchema = named(
  'ChainLink',
  z.strictObject({
    tokenId: z.string(),
    event: z.string().meta({ description: 'issued, refreshed or exchanged; unknown when no grant arrived' }),
    time: NullableTime,
    parentId: z.string(),
    agentId: z.string(),
    taskId: z.string(),
    audience: z.array(z.string()),
    scopes: z.array(z.string()),
    expiresAt: NullableTime,
    revokedAt: NullableTime,
    uses: Count,
    current: z.boolean().meta({ description: 'The token the page is about' }),
    state: LineageStateSchema,
  }),
  'A token in a session or delegation chain',
);

export const TokenDetailSchema = named(
  'TokenDetail',
  z.strictObject({
    tokenId: z.string(),
    status: z
      .enum(['active', 'expired', 'revoked', 'ungoverned'])
      .meta({ description: 'revoked also when a revocation reached it through its session or a delegator (see state)' }),
    state: LineageStateSchema,
    grant: TokenEventSchema.nullable(),
    events: z.array(TokenEventSchema).meta({ description: 'Every lifecycle event of this token, oldest first' }),
    task: TaskSchema.nullable(),
    session: z.strictObject({
      rootTokenId: z.string(),
      complete: z.boolean().meta({ description: 'False while a grant on the way to the root has not arrived' }),
      maxSessionS: z.number().int().nullable(),
      startedAt: NullableTime,
      endsAt: NullableTime.meta({ description: 'Root issue time plus token.max_session_s' }),
      tokens: z.array(ChainLinkSchema).meta({ description: 'The root and its refreshes, in order' }),
    }),
    delegation: z.strictObject({
      chain: z
        .array(ChainLinkSchema)
        .meta({ description: 'Session roots from the original grant to this token’s session, one per exchange hop' }),
      delegatedTo: z
        .array(ChainLinkSchema)
        .meta({ description: 'Tokens exchanged from this token’s session, and everything derived from them' }),
    }),
    intentVsActual: IntentVsActualSchema,
    lifetime: LifetimeSchema,
    uses: z.strictObject({
      total: Count,
      items: z.array(UseSchema).meta({ description: 'Most recent uses first' }),
      truncated: z.boolean(),
    }),
    alerts: z.array(AlertSchema).meta({ description: 'Alerts of the token’s session' }),
  }),
  'A token: its grants, session, delegation chain, intent vs actual use, and timeline of uses',
);

const AgentSummaryFields = {
  agentId: z.string(),
  tokens: Count.meta({ description: 'Tokens granted to the agent' }),
  tokensUsed: Count.meta({ description: 'Distinct tokens the agent presented in the window' }),
  uses: Count.meta({ description: 'Token uses in the window' }),
  targets: z.array(z.string()).meta({ description: 'Target services used in the window (up to 10)' }),
  firstSeen: NullableTime,
  lastSeen: NullableTime,
  openAlerts: Count,
  worstOpenSeverity: SeveritySchema.nullable(),
};

export const AgentSummarySchema = named('AgentSummary', z.strictObject(AgentSummaryFields));

export const AgentListSchema = named(
  'AgentList',
  z.strictObject({ since: Time.meta({ description: 'Start of the activity window' }), agents: z.array(AgentSummarySchema) }),
);

export const AgentTokenSchema = named(
  'AgentToken',
  z.strictObject({
    tokenId: z.string(),
    event: z.string(),
    grantedTo: z.string().meta({ description: 'The grantee; another agent’s id when this agent presented a token not granted to it' }),
    grantedAt: NullableTime,
    expiresAt: NullableTime,
    revokedAt: NullableTime,
    taskId: z.string(),
    audience: z.array(z.string()),
    scopes: z.array(z.string()),
    uses: Count.meta({ description: 'Uses by this agent in the window' }),
    lastUse: NullableTime,
    openAlerts: Count,
  }),
);

export const AgentDetailSchema = named(
  'AgentDetail',
  z.strictObject({
    ...AgentSummaryFields,
    since: Time,
    workloads: z.array(z.string()),
    tokenList: z.array(AgentTokenSchema),
    tasks: z.array(TaskSchema),
    activity: z.strictObject({
      bucketS: z.number().int().min(1),
      buckets: z.array(z.strictObject({ time: Time, uses: Count, targets: Count, flagged: Count })),
      byTarget: z.array(z.strictObject({ value: z.string(), count: Count })),
    }),
    alerts: z.array(AlertSchema),
  }),
  'An agent: its tokens, tasks, activity and alerts',
);

export const SuppressionListSchema = named('SuppressionList', z.strictObject({ suppressions: z.array(SuppressionSchema) }));

export const IdentitySchema = named(
  'Identity',
  z.strictObject({
    name: z.string().meta({ description: 'The key’s non-secret name, as the audit trail records it' }),
    role: RoleSchema,
    features: z.array(z.string()).meta({ description: 'Optional parts this deployment serves, e.g. responders (revoke webhooks)' }),
  }),
);

export const HealthSchema = named('Health', z.strictObject({ status: z.literal('ok') }));
export const ReadinessSchema = named(
  'Readiness',
  z.strictObject({
    status: z.enum(['ready', 'not_ready']),
    checks: z.array(z.strictObject({ name: z.string(), ok: z.boolean() })),
  }),
);

// ── requests ────────────────────────────────────────────────────────────────────────────────

/** Free text from a client: bounded, without control characters. */
export const text = (max: number, what = 'text') =>
  z
    .string()
    .max(max, `at most ${max} characters`)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    .regex(/^[^\u0000-\u001f\u007f]*$/, `${what} without control characters`);

/**
 * An identifier in a path, filter or suppression: 1–4096 characters (MAX_ID_LENGTH), any of them —
 * control characters too — since ingest stores such ids and each must be found, filtered and
 * suppressed. Matched exactly, always as a query parameter.
 */
export const IdText = z
  .string()
  .min(1, 'not empty')
  .max(MAX_ID_LENGTH, `at most ${MAX_ID_LENGTH} characters`)
  // Ingest replaces a lone surrogate by U+FFFD (collector/src/well-formed.ts), so no stored id holds one.
  .refine((v) => (v as unknown as { isWellFormed(): boolean }).isWellFormed(), 'well-formed Unicode (no lone surrogate)');

const DETECTOR_ID = /^[a-z][a-z0-9_]{0,63}$/;
export const detectorId = z.string().regex(DETECTOR_ID, 'a detector id such as scope_creep (lower-case letters, digits, _)');

/** `a,b,c` → a list of values each checked by `item`. */
const commaList = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .string()
    .max(1000, 'at most 1000 characters')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).max(20, 'at most 20 values'));

/** An RFC 3339 time the store can hold (DateTime64(9): 1900 to 2262); any other is a 400 naming the range. */
export const rfc3339 = z.iso.datetime({ offset: true, error: 'an RFC 3339 time such as 2026-11-25T10:00:00Z' }).refine((v) => {
  const nanos = rfc3339ToNanos(v);
  return nanos !== undefined && isStorableNanos(nanos);
}, `a time ${STORE_TIME_RANGE}`);

export const AlertListQuery = z.strictObject({
  detector: commaList(detectorId).optional().meta({ description: 'Detector id(s), comma-separated' }),
  severity: commaList(SeveritySchema).optional().meta({ description: 'low, medium, high, critical; comma-separated for several' }),
  status: commaList(AlertStatusSchema)
    .optional()
    .meta({ description: 'open, acknowledged, resolved, false_positive; comma-separated for several' }),
  tokenId: IdText.optional().meta({ description: 'A token id: its alerts and those of the session it roots' }),
  agentId: IdText.optional(),
  target: IdText.optional(),
  environment: IdText.optional(),
  assignee: IdText.optional(),
  q: text(200)
    .optional()
    .meta({ description: 'Text searched in id, detector, title, reason, token, agent, task, target, caller, environment, assignee' }),
  since: rfc3339.optional().meta({ description: 'Only alerts last seen at or after this time' }),
  suppressed: z
    .enum(['exclude', 'include', 'only'])
    .optional()
    .meta({ description: 'Open alerts muted by an active suppression: left out (default), included, or alone' }),
  sort: z.enum(ALERT_SORTS).optional().meta({ description: 'lastSeen (default), firstSeen, severity, count' }),
  order: z.enum(['asc', 'desc']).optional().meta({ description: 'desc (default) or asc' }),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'a whole number from 1 to 500')
    .transform(Number)
    .pipe(z.number().int().min(1, 'a whole number from 1 to 500').max(500, 'a whole number from 1 to 500'))
    .optional()
    .meta({ description: 'Page size, 1–500 (default 50)' }),
  cursor: z
    .string()
    .max(2000, 'at most 2000 characters')
    .regex(/^[A-Za-z0-9_-]+$/, 'the nextCursor of a previous page, unchanged')
    .optional(),
});

export const AlertSummaryQuery = AlertListQuery.omit({ suppressed: true, sort: true, order: true, limit: true, cursor: true });

export const IdParams = z.strictObject({ id: IdText });

export const TriageBody = named(
  'TriageChange',
  z
    .strictObject({
      status: AlertStatusSchema.optional(),
      assignee: text(200)
        .min(1, 'not empty (send null to unassign)')
        .nullable()
        .optional()
        .meta({ description: 'A person, or null to unassign' }),
      note: text(10_000)
        .optional()
        .refine((v) => v === undefined || v.trim().length > 0, 'not blank'),
    })
    .refine((b) => b.status !== undefined || b.assignee !== undefined || b.note !== undefined, 'at least one of status, assignee, note'),
  'A triage change; every field given is applied and recorded in the audit trail',
);

export const NewSuppressionBody = named(
  'NewSuppression',
  z.strictObject({
    detector: z.union([detectorId, z.literal('*')]).meta({ description: 'A detector id, or * for every detector' }),
    scope: SuppressionScopeSchema,
    value: IdText,
    reason: text(2000).refine((v) => v.trim().length >= 3, 'a reason of at least 3 characters'),
    expiresAt: rfc3339.meta({ description: 'When the suppression ends, within a year' }),
  }),
);

export const SuppressionListQuery = z.strictObject({
  all: z.enum(['true', 'false']).optional().meta({ description: 'true: also expired and lifted suppressions' }),
});

export const WindowQuery = z.strictObject({
  since: rfc3339.optional().meta({ description: 'Start of the activity window (default: 7 days ago)' }),
});

export const AgentListQuery = WindowQuery.extend({
  q: text(200).optional().meta({ description: 'Text the agent id contains' }),
});

export const TokenQuery = z.strictObject({
  uses: z
    .string()
    .regex(/^\d{1,4}$/, 'a whole number from 1 to 5000')
    .transform(Number)
    .pipe(z.number().int().min(1, 'a whole number from 1 to 5000').max(5000, 'a whole number from 1 to 5000'))
    .optional()
    .meta({ description: 'How many of the most recent uses to list (default 500)' }),
});

export type AlertOut = z.output<typeof AlertSchema>;
export type AlertDetailOut = z.output<typeof AlertDetailSchema>;
export type SuppressionOut = z.output<typeof SuppressionSchema>;
export type UseOut = z.output<typeof UseSchema>;
export type TokenEventOut = z.output<typeof TokenEventSchema>;
export type TaskOut = z.output<typeof TaskSchema>;
export type DimensionOut = z.output<typeof DimensionSchema>;
export type IntentVsActualOut = z.output<typeof IntentVsActualSchema>;
export type ChainLinkOut = z.output<typeof ChainLinkSchema>;
export type TokenDetailOut = z.output<typeof TokenDetailSchema>;
export type LifetimeOut = z.output<typeof LifetimeSchema>;
export type AgentSummaryOut = z.output<typeof AgentSummarySchema>;
export type AgentDetailOut = z.output<typeof AgentDetailSchema>;
export type AgentTokenOut = z.output<typeof AgentTokenSchema>;
export type EvidenceDetailOut = z.output<typeof EvidenceDetailSchema>;
export type AlertSummaryOut = z.output<typeof AlertSummarySchema>;
