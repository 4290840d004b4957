import { createLogger } from '../logger.js';
import type { Store } from './store.js';
import { addColumnDdl, createTableDdl, type DdlTarget, type TableSpec } from './table-spec.js';

export interface MigrationContext extends DdlTarget {
  retentionDays: number;
}

/**
 * One versioned step of the schema. `statements` returns the SQL for the target (single node or
 * cluster); every statement must be idempotent (`IF NOT EXISTS`) so that a migration that was
 * interrupted half-way can simply run again.
 */
export interface Migration {
  version: number;
  name: string;
  statements(ctx: MigrationContext): string[];
}

const migrationsTable: TableSpec = {
  name: 'schema_migrations',
  columns: ['version UInt32', 'name String', "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)"],
  engine: 'ReplacingMergeTree(applied_at)',
  orderBy: 'version',
  shardingKey: 'version',
};

/**
 * `spans`: one row per span; token uses carry `token_id`, other spans are kept as context.
 *
 * Sort key: `ingested_at` first. The detectors' hot query is "what arrived since my watermark",
 * and with ingestion time leading the primary index narrows every run to the new rows alone,
 * so a run costs O(new rows) whatever the history (docs/design.md, targets). Look-ups by token,
 * agent, task or trace go through bloom-filter skip indexes; `time` has a min-max index because
 * event time tracks ingestion time closely for live traffic. Partitions are days of ingestion
 * (set by the collector, so a sender's clock cannot create thousands of partitions), which also
 * makes TTL drop whole parts.
 */
const spans = (ctx: MigrationContext): TableSpec => ({
  name: 'spans',
  columns: [
    "time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1))",
    "end_time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1))",
    "ingested_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1))",
    'trace_id String',
    'span_id String',
    'parent_span_id String',
    'name String',
    'kind UInt8',
    'status_code UInt8',
    'token_id String',
    'task_id String',
    'agent_id LowCardinality(String)',
    'workload_id String',
    'caller LowCardinality(String)',
    'target LowCardinality(String)',
    'action String',
    'environment LowCardinality(String)',
    'scopes Array(LowCardinality(String))',
    'resource String',
    'tool LowCardinality(String)',
    'scope_name LowCardinality(String)',
    'attributes Map(LowCardinality(String), String) CODEC(ZSTD(1))',
    'resource_attributes Map(LowCardinality(String), String) CODEC(ZSTD(1))',
    'dropped_attributes UInt32',
  ],
  indexes: [
    'INDEX idx_time time TYPE minmax GRANULARITY 1',
    'INDEX idx_token token_id TYPE bloom_filter(0.01) GRANULARITY 2',
    'INDEX idx_agent agent_id TYPE bloom_filter(0.01) GRANULARITY 2',
    'INDEX idx_task task_id TYPE bloom_filter(0.01) GRANULARITY 2',
    'INDEX idx_trace trace_id TYPE bloom_filter(0.01) GRANULARITY 2',
  ],
  engine: 'MergeTree',
  partitionBy: 'toYYYYMMDD(ingested_at)',
  orderBy: '(ingested_at, token_id, trace_id, span_id)',
  ttl: `toDateTime(ingested_at) + INTERVAL ${ctx.retentionDays} DAY`,
  // Keeps a token's uses on one shard, so token timelines and per-token detection stay local.
  shardingKey: 'cityHash64(token_id)',
});

/**
 * `token_events`: grants and revocations (docs/conventions.md §1.2). Small and read by every
 * detector run, always by token, so it is sorted by token then time. No TTL: a long-lived grant
 * must outlive the retention of the uses it explains.
 */
const tokenEvents: TableSpec = {
  name: 'token_events',
  columns: [
    "time DateTime64(9, 'UTC')",
    "ingested_at DateTime64(3, 'UTC')",
    'event LowCardinality(String)',
    'token_id String',
    'parent_id String',
    'task_id String',
    'agent_id LowCardinality(String)',
    'workload_id String',
    'audience Array(String)',
    'scopes Array(String)',
    'resources Array(String)',
    "expires_at Nullable(DateTime64(3, 'UTC'))",
    'max_session_s Nullable(UInt32)',
    'environment LowCardinality(String)',
    'revoked_reason String',
    'caller LowCardinality(String)',
    'trace_id String',
    'span_id String',
    'source LowCardinality(String)',
    'attributes Map(LowCardinality(String), String) CODEC(ZSTD(1))',
  ],
  indexes: ['INDEX idx_ingested ingested_at TYPE minmax GRANULARITY 1', 'INDEX idx_parent parent_id TYPE bloom_filter(0.01) GRANULARITY 1'],
  engine: 'MergeTree',
  orderBy: '(token_id, time, event)',
  shardingKey: 'cityHash64(token_id)',
};

/** `task_events`: task lifecycle from the orchestrator (docs/conventions.md §1.3), sorted by task. */
const taskEvents: TableSpec = {
  name: 'task_events',
  columns: [
    "time DateTime64(9, 'UTC')",
    "ingested_at DateTime64(3, 'UTC')",
    'event LowCardinality(String)',
    'task_id String',
    'agent_id LowCardinality(String)',
    'intent String',
    'tools Array(String)',
    "deadline Nullable(DateTime64(3, 'UTC'))",
    'caller LowCardinality(String)',
    'trace_id String',
    'span_id String',
    'source LowCardinality(String)',
    'attributes Map(LowCardinality(String), String) CODEC(ZSTD(1))',
  ],
  indexes: ['INDEX idx_ingested ingested_at TYPE minmax GRANULARITY 1'],
  engine: 'MergeTree',
  orderBy: '(task_id, time, event)',
  shardingKey: 'cityHash64(task_id)',
};

/**
 * `alerts`: detection state, one logical row per alert id (a hash of its dedup key). Every
 * update by a detector is a new row with a higher `version`; readers take the latest version
 * (`LIMIT 1 BY id` / argMax), never `FINAL` on large scans. Only detection fields live here —
 * triage (status, assignee, notes) is in `alert_triage` / `alert_events`, so that a
 * re-detection can never overwrite an analyst's decision. The sort key is the immutable id;
 * `first_seen`/`last_seen` change and so stay out of it.
 */
const alerts: TableSpec = {
  name: 'alerts',
  columns: [
    'id String',
    'detector LowCardinality(String)',
    'severity LowCardinality(String)',
    'title String',
    'reason String',
    'dedup_key String',
    'token_id String',
    'root_token_id String',
    'agent_id String',
    'task_id String',
    'caller String',
    'target String',
    'environment String',
    'frameworks Array(LowCardinality(String))',
    "first_seen DateTime64(9, 'UTC')",
    "last_seen DateTime64(9, 'UTC')",
    'hit_count UInt64',
    "created_at DateTime64(3, 'UTC')",
    "updated_at DateTime64(3, 'UTC')",
    'version UInt64',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'id',
  shardingKey: 'cityHash64(id)',
};

/**
 * `alert_hits`: one row per piece of evidence (an offending span, or a lifecycle event) of an
 * alert. Keyed by (alert id, evidence key), so replaying a window inserts nothing new and an
 * alert's count is the number of distinct offending spans.
 */
const alertHits: TableSpec = {
  name: 'alert_hits',
  columns: [
    'alert_id String',
    'evidence_key String',
    'trace_id String',
    'span_id String',
    "time DateTime64(9, 'UTC')",
    "detected_at DateTime64(3, 'UTC')",
    'token_id String',
    'agent_id String',
    'target String',
    'severity LowCardinality(String)',
    'reason String',
  ],
  engine: 'ReplacingMergeTree',
  orderBy: '(alert_id, evidence_key)',
  shardingKey: 'cityHash64(alert_id)',
};

/** `alert_triage`: the analyst's side of an alert (latest `version` wins; `assignee` '' = nobody). */
const alertTriage: TableSpec = {
  name: 'alert_triage',
  columns: [
    'alert_id String',
    'status LowCardinality(String)',
    "assignee String DEFAULT ''",
    'updated_by String',
    "updated_at DateTime64(3, 'UTC')",
    'version UInt64',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'alert_id',
  shardingKey: 'cityHash64(alert_id)',
};

/**
 * `alert_events`: the audit trail of an alert — raised, reopened by new evidence, status and
 * assignee changes, notes — who, when, what. `event_id` is deterministic for detector events
 * (a replay writes the same row) and random for people's actions.
 */
const alertEvents: TableSpec = {
  name: 'alert_events',
  columns: [
    'alert_id String',
    'event_id String',
    "time DateTime64(3, 'UTC')",
    'actor String',
    'action LowCardinality(String)',
    'from_status LowCardinality(String)',
    'to_status LowCardinality(String)',
    'detail String',
  ],
  engine: 'ReplacingMergeTree',
  orderBy: '(alert_id, event_id)',
  shardingKey: 'cityHash64(alert_id)',
};

/** `detector_state`: each detector's watermark over `ingested_at`, so a restart resumes. */
const detectorState: TableSpec = {
  name: 'detector_state',
  columns: ['detector LowCardinality(String)', "watermark DateTime64(3, 'UTC')", "updated_at DateTime64(3, 'UTC')", 'version UInt64'],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'detector',
  shardingKey: 'cityHash64(detector)',
};

/**
 * `usage_buckets`: per-entity (agent or token) request count and distinct targets per bucket of
 * event time, kept by `usage_anomaly` so that its trailing baseline is a small read, not a
 * re-aggregation of every span of the last hour at every run.
 */
const usageBuckets = (ctx: MigrationContext): TableSpec => ({
  name: 'usage_buckets',
  columns: [
    'entity_kind LowCardinality(String)',
    'entity String',
    'bucket_s UInt32',
    "bucket DateTime('UTC')",
    'requests UInt64',
    'targets UInt64',
    'top_token String',
    'version UInt64',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: '(entity_kind, entity, bucket_s, bucket)',
  ttl: `bucket + INTERVAL ${ctx.retentionDays} DAY`,
  shardingKey: 'cityHash64(entity)',
});

/**
 * `suppressions`: analysts' mutes of a detector for one token, agent, target or environment, with
 * a reason, an author and an expiry. Muted detections are still recorded and counted; the API
 * keeps them out of the open queue while the suppression is active. Rows are versions (latest
 * wins), so lifting a suppression early is a new version with `deleted_at` set, and the history
 * of who muted what stays readable.
 */
const suppressions: TableSpec = {
  name: 'suppressions',
  columns: [
    'id String',
    'detector LowCardinality(String)',
    'scope LowCardinality(String)',
    'value String',
    'reason String',
    'author String',
    "created_at DateTime64(3, 'UTC')",
    "expires_at DateTime64(3, 'UTC')",
    "deleted_at Nullable(DateTime64(3, 'UTC'))",
    "deleted_by String DEFAULT ''",
    'version UInt64',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'id',
  shardingKey: 'cityHash64(id)',
};

/**
 * `revocations`: one logical row per revoke request (its `webhook_id`), the latest `version`
 * telling its state: queued, retrying, delivered, dead, held (a paused policy or its rate limit),
 * dry_run, refused (endpoint not allowed), disabled (endpoint answered 410), discarded. Sorted by
 * policy and dedup key (`token:<id>`: one request per token), so "has this token already been
 * revoked under this policy?" is a primary-key lookup. `payload` is the exact body sent on every
 * attempt (no secrets in it).
 */
const revocations: TableSpec = {
  name: 'revocations',
  columns: [
    'webhook_id String',
    'policy_id LowCardinality(String)',
    'dedup_key String',
    'alert_id String',
    'mode LowCardinality(String)',
    'token_id String',
    'session_root String',
    'tokens Array(String)',
    'chain Array(String)',
    'dry_run UInt8',
    'requested_by String',
    'payload String CODEC(ZSTD(1))',
    'status LowCardinality(String)',
    'attempts UInt16',
    'last_error String',
    "created_at DateTime64(3, 'UTC')",
    "updated_at DateTime64(3, 'UTC')",
    'version UInt64',
  ],
  indexes: [
    'INDEX idx_alert alert_id TYPE bloom_filter(0.01) GRANULARITY 1',
    'INDEX idx_webhook webhook_id TYPE bloom_filter(0.01) GRANULARITY 1',
    'INDEX idx_updated updated_at TYPE minmax GRANULARITY 1',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: '(policy_id, dedup_key, webhook_id)',
  shardingKey: 'cityHash64(policy_id, dedup_key)',
};

/** `deliveries`: every webhook attempt — status, HTTP status, latency, error — the audit trail shown on the alert. */
const deliveries: TableSpec = {
  name: 'deliveries',
  columns: [
    'alert_id String',
    'webhook_id String',
    'policy_id LowCardinality(String)',
    'attempt UInt16',
    'status LowCardinality(String)',
    'http_status UInt16',
    'latency_ms UInt32',
    'error String',
    'endpoint String',
    'dry_run UInt8',
    "next_attempt_at Nullable(DateTime64(3, 'UTC'))",
    "time DateTime64(3, 'UTC')",
  ],
  indexes: ['INDEX idx_webhook webhook_id TYPE bloom_filter(0.01) GRANULARITY 1'],
  engine: 'MergeTree',
  orderBy: '(alert_id, webhook_id, attempt, time)',
  shardingKey: 'cityHash64(alert_id)',
};

/** `delivery_dead_letters`: deliveries that failed their last attempt, with the body, for replay by an operator. */
const deliveryDeadLetters: TableSpec = {
  name: 'delivery_dead_letters',
  columns: [
    'webhook_id String',
    'policy_id LowCardinality(String)',
    'alert_id String',
    'attempts UInt16',
    'last_http_status UInt16',
    'last_error String',
    'payload String CODEC(ZSTD(1))',
    "time DateTime64(3, 'UTC')",
  ],
  engine: 'ReplacingMergeTree',
  orderBy: '(policy_id, webhook_id)',
  shardingKey: 'cityHash64(webhook_id)',
};

/** `responder_policies`: revoke policies created through the API (a policy file's are not stored); latest `version` wins. */
const responderPolicies: TableSpec = {
  name: 'responder_policies',
  columns: ['id String', 'body String', 'deleted UInt8', 'updated_by String', "updated_at DateTime64(3, 'UTC')", 'version UInt64'],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'id',
  shardingKey: 'cityHash64(id)',
};

/** `responder_policy_state`: active, paused (circuit breaker) or disabled (endpoint gone), with the reason an admin reads. */
const responderPolicyState: TableSpec = {
  name: 'responder_policy_state',
  columns: [
    'policy_id String',
    'state LowCardinality(String)',
    'reason String',
    'updated_by String',
    "updated_at DateTime64(3, 'UTC')",
    'version UInt64',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'policy_id',
  shardingKey: 'cityHash64(policy_id)',
};

/** `responder_state`: the responder's watermark over `alerts.version`, so a restart resumes. */
const responderState: TableSpec = {
  name: 'responder_state',
  columns: ['name LowCardinality(String)', 'watermark UInt64', "updated_at DateTime64(3, 'UTC')", 'version UInt64'],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'name',
  shardingKey: 'cityHash64(name)',
};

/**
 * `ssf_keys`: the Shared Signals transmitter's signing keys. The private JWK only sealed under
 * `INTENTWATCH_SECRETS_KEY`; `retire_at` set when a newer key replaced it (it stays in the JWKS
 * until then); latest `version` wins.
 */
const ssfKeys: TableSpec = {
  name: 'ssf_keys',
  columns: [
    'kid String',
    'alg LowCardinality(String)',
    'public_jwk String',
    'private_sealed String',
    "created_at DateTime64(3, 'UTC')",
    "retire_at Nullable(DateTime64(3, 'UTC'))",
    'version UInt64',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'kid',
  shardingKey: 'cityHash64(kid)',
};

/** `ssf_streams`: Shared Signals event streams (configuration, subjects, status) as JSON; latest `version` wins. */
const ssfStreams: TableSpec = {
  name: 'ssf_streams',
  columns: ['stream_id String', 'body String', 'deleted UInt8', 'updated_by String', "updated_at DateTime64(3, 'UTC')", 'version UInt64'],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'stream_id',
  shardingKey: 'cityHash64(stream_id)',
};

/** Every migration, in order. Append; never edit one that has shipped. */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'signals: spans, token_events, task_events',
    statements: (ctx) => [spans(ctx), tokenEvents, taskEvents].flatMap((t) => createTableDdl(t, ctx)),
  },
  {
    version: 2,
    name: 'detection: alerts, alert_hits, alert_triage, alert_events, detector_state, usage_buckets',
    statements: (ctx) =>
      [alerts, alertHits, alertTriage, alertEvents, detectorState, usageBuckets(ctx)].flatMap((t) => createTableDdl(t, ctx)),
  },
  {
    version: 3,
    // A token's bucket names the agent that used it most, so that a token's burst that is its
    // agent's burst is reported once, also when the bucket is re-scored from this table.
    name: 'detection: usage_buckets.top_agent',
    statements: (ctx) => addColumnDdl('usage_buckets', "top_agent String DEFAULT ''", ctx),
  },
  {
    version: 4,
    // An MCP use (docs/conventions.md §1.6) is named as one in alert reasons. Its method is taken from
    // the attribute map once, at insert: detectors then read a near-empty LowCardinality column
    // instead of the whole map (measured: the map read made a window query several times slower).
    // Parts written before this version compute it from the map when read.
    name: 'signals: spans.mcp_method',
    statements: (ctx) => addColumnDdl('spans', "mcp_method LowCardinality(String) MATERIALIZED attributes['mcp.method.name']", ctx),
  },
  {
    version: 5,
    // The resource as sent, beside the normal form in `resource` that grants are matched
    // against ('' when normalising changed nothing; see core/src/conventions/resource.ts).
    name: 'signals: spans.resource_raw',
    statements: (ctx) => addColumnDdl('spans', "resource_raw String DEFAULT ''", ctx),
  },
  {
    version: 10,
    name: 'triage: suppressions',
    statements: (ctx) => createTableDdl(suppressions, ctx),
  },
  {
    version: 20,
    name: 'responders: revocations, deliveries, delivery_dead_letters, responder_policies, responder_policy_state, responder_state',
    statements: (ctx) =>
      [revocations, deliveries, deliveryDeadLetters, responderPolicies, responderPolicyState, responderState].flatMap((t) =>
        createTableDdl(t, ctx),
      ),
  },
  {
    version: 21,
    // One revoke request per token (docs/conventions.md §2.3): the token a request revokes and
    // how it stands to the alert's token ('' on requests made before, and on other channels').
    name: 'responders: revocations.token, revocations.relation',
    statements: (ctx) => [
      ...addColumnDdl('revocations', "token String DEFAULT ''", ctx),
      ...addColumnDdl('revocations', "relation LowCardinality(String) DEFAULT ''", ctx),
    ],
  },
  {
    version: 30,
    name: 'responders: ssf_keys, ssf_streams (Shared Signals transmitter)',
    statements: (ctx) => [ssfKeys, ssfStreams].flatMap((t) => createTableDdl(t, ctx)),
  },
];

/** Registers further migrations (other workspaces own their tables). Versions must be unique. */
export function registerMigrations(...more: Migration[]): void {
  for (const m of more) {
    if (MIGRATIONS.some((x) => x.version === m.version)) {
      if (MIGRATIONS.find((x) => x.version === m.version)?.name === m.name) continue;
      throw new Error(`migration version ${m.version} is registered twice`);
    }
    MIGRATIONS.push(m);
  }
  MIGRATIONS.sort((a, b) => a.version - b.version);
}

/** The SQL the migrations run for a target, in order, without running it (for review and tests). */
export function migrationSql(ctx: MigrationContext): string[] {
  return [...createTableDdl(migrationsTable, ctx), ...MIGRATIONS.flatMap((m) => m.statements(ctx))];
}

/**
 * Brings the store's schema up to date: runs every migration not yet recorded, in order, and
 * records it. Safe to run at every start-up and from several processes at once (each statement
 * is idempotent).
 */
export async function migrate(store: Store, options: { retentionDays: number }): Promise<number[]> {
  const log = createLogger('core.migrations');
  const ctx: MigrationContext = { database: store.database, cluster: store.cluster, retentionDays: options.retentionDays };
  for (const sql of createTableDdl(migrationsTable, ctx)) await store.command(sql);
  const done = new Set(
    (await store.query<{ version: number }>('SELECT DISTINCT version FROM schema_migrations')).map((r) => Number(r.version)),
  );
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    for (const sql of m.statements(ctx)) await store.command(sql);
    await store.insert('schema_migrations', [{ version: m.version, name: m.name }]);
    log.info({ version: m.version, name: m.name }, 'migration applied');
    applied.push(m.version);
  }
  return applied;
}
