import { createLogger } from '../logger.js';
import type { Store } from './store.js';
import { alertEventsTable } from '../schema/alert-events.js';
import { alertHitsTable } from '../schema/alert-hits.js';
import { alertTriageTable } from '../schema/alert-triage.js';
import { alertsTable } from '../schema/alerts.js';
import { deliveriesTable } from '../schema/deliveries.js';
import { deliveryDeadLettersTable } from '../schema/delivery-dead-letters.js';
import { detectorStateTable } from '../schema/detector-state.js';
import { responderPoliciesTable } from '../schema/responder-policies.js';
import { responderPolicyStateTable } from '../schema/responder-policy-state.js';
import { responderStateTable } from '../schema/responder-state.js';
import { REVOCATIONS_RELATION, REVOCATIONS_TOKEN, revocationsV20 } from '../schema/revocations.js';
import { schemaMigrationsTable } from '../schema/schema-migrations.js';
import { SPANS_MCP_METHOD, SPANS_RESOURCE_RAW, spansV1 } from '../schema/spans.js';
import { ssfKeysTable } from '../schema/ssf-keys.js';
import { ssfStreamsTable } from '../schema/ssf-streams.js';
import { suppressionsTable } from '../schema/suppressions.js';
import { taskEventsTable } from '../schema/task-events.js';
import { tokenEventsTable } from '../schema/token-events.js';
import { USAGE_BUCKETS_INGESTED_FROM, USAGE_BUCKETS_TOP_AGENT, usageBucketsV2 } from '../schema/usage-buckets.js';
import { usageCountsV7 } from '../schema/usage-counts.js';
import { quoteIdentifier } from './store.js';
import { addColumnDdl, createTableDdl, type DdlTarget } from './table-spec.js';

export interface MigrationContext extends DdlTarget {
  retentionDays: number;
}

/**
 * One versioned step of the schema. `statements` returns the SQL for the target (single node or
 * cluster); every statement must be idempotent (`IF NOT EXISTS`) so that a migration that was
 * interrupted half-way can simply run again.
 *
 * Each table's current DDL, row type and columns live in `core/src/schema/<table>.ts`; a
 * migration names the form of a table (or the column) as it was when that migration shipped, so
 * that its SQL never changes once it has run.
 */
export interface Migration {
  version: number;
  name: string;
  statements(ctx: MigrationContext): string[];
}

/** Every migration, in order. Append; never edit one that has shipped. */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'signals: spans, token_events, task_events',
    statements: (ctx) => [spansV1(ctx), tokenEventsTable, taskEventsTable].flatMap((t) => createTableDdl(t, ctx)),
  },
  {
    version: 2,
    name: 'detection: alerts, alert_hits, alert_triage, alert_events, detector_state, usage_buckets',
    statements: (ctx) =>
      [alertsTable, alertHitsTable, alertTriageTable, alertEventsTable, detectorStateTable, usageBucketsV2(ctx)].flatMap((t) =>
        createTableDdl(t, ctx),
      ),
  },
  {
    version: 3,
    // A token's bucket names the agent that used it most, so that a token's burst that is its
    // agent's burst is reported once, also when the bucket is re-scored from this table.
    name: 'detection: usage_buckets.top_agent',
    statements: (ctx) => addColumnDdl('usage_buckets', USAGE_BUCKETS_TOP_AGENT, ctx),
  },
  {
    version: 4,
    // An MCP use (docs/conventions.md §1.6) is named as one in alert reasons. Its method is taken from
    // the attribute map once, at insert: detectors then read a near-empty LowCardinality column
    // instead of the whole map (measured: the map read made a window query several times slower).
    // Parts written before this version compute it from the map when read.
    name: 'signals: spans.mcp_method',
    statements: (ctx) => addColumnDdl('spans', SPANS_MCP_METHOD, ctx),
  },
  {
    version: 5,
    // The resource as sent, beside the normal form in `resource` that grants are matched
    // against ('' when normalising changed nothing; see core/src/conventions/resource.ts).
    name: 'signals: spans.resource_raw',
    statements: (ctx) => addColumnDdl('spans', SPANS_RESOURCE_RAW, ctx),
  },
  {
    version: 6,
    // A bucket's recount reads spans from the earliest ingestion time of its spans, so that it
    // skips the parts ingested before (the sorting key of spans starts with ingested_at) instead
    // of every part whose event times overlap the bucket, which late and back-dated spans spread.
    name: 'detection: usage_buckets.ingested_from',
    statements: (ctx) => addColumnDdl('usage_buckets', USAGE_BUCKETS_INGESTED_FROM, ctx),
  },
  {
    version: 7,
    // usage_anomaly sums per-second counts the collector writes with the spans instead of
    // reading a bucket's spans again at every run (see core/src/schema/usage-counts.ts).
    name: 'detection: usage_counts',
    statements: usageCountsStatements,
  },
  {
    version: 10,
    name: 'triage: suppressions',
    statements: (ctx) => createTableDdl(suppressionsTable, ctx),
  },
  {
    version: 20,
    name: 'responders: revocations, deliveries, delivery_dead_letters, responder_policies, responder_policy_state, responder_state',
    statements: (ctx) =>
      [
        revocationsV20,
        deliveriesTable,
        deliveryDeadLettersTable,
        responderPoliciesTable,
        responderPolicyStateTable,
        responderStateTable,
      ].flatMap((t) => createTableDdl(t, ctx)),
  },
  {
    version: 21,
    // One revoke request per token (docs/conventions.md §2.3): the token a request revokes and
    // how it stands to the alert's token ('' on requests made before, and on other channels').
    name: 'responders: revocations.token, revocations.relation',
    statements: (ctx) => [
      ...addColumnDdl('revocations', REVOCATIONS_TOKEN, ctx),
      ...addColumnDdl('revocations', REVOCATIONS_RELATION, ctx),
    ],
  },
  {
    version: 30,
    name: 'responders: ssf_keys, ssf_streams (Shared Signals transmitter)',
    statements: (ctx) => [ssfKeysTable, ssfStreamsTable].flatMap((t) => createTableDdl(t, ctx)),
  },
];

/**
 * Migration 7: `usage_counts`, emptied, then the token uses already stored counted into it — so
 * that the migration can run again after an interruption (emptied again, counted again). From
 * then on the collector writes a request's counts with its spans. Uses a collector of an earlier
 * version stores while this runs are not counted: migrate before ingest starts (every role of
 * `intentwatch` migrates before it serves). The count goes through the Distributed tables on a
 * cluster. Event times a `DateTime` cannot hold (a sender's clock before 1970 or past 2106) are
 * not counted: `usage_anomaly` leaves them to the other detectors.
 */
function usageCountsStatements(ctx: MigrationContext): string[] {
  const db = quoteIdentifier(ctx.database);
  const onCluster = ctx.cluster ? ` ON CLUSTER ${quoteIdentifier(ctx.cluster)}` : '';
  const local = `${db}.${quoteIdentifier(ctx.cluster ? 'usage_counts_local' : 'usage_counts')}`;
  return [
    ...createTableDdl(usageCountsV7(ctx), ctx),
    `TRUNCATE TABLE IF EXISTS ${local}${onCluster}`,
    // A long history has many token-seconds: past 256 MiB of groups the count spills to disk.
    `INSERT INTO ${db}.${quoteIdentifier('usage_counts')} (agent_id, token_id, second, requests, targets, ingested_from)
SELECT agent_id, token_id, toStartOfSecond(time) AS second, count(), groupUniqArray(toString(target)), min(ingested_at)
FROM ${db}.${quoteIdentifier('spans')}
WHERE token_id != '' AND time >= toDateTime64(0, 9, 'UTC') AND time < toDateTime64(4294967295, 9, 'UTC')
GROUP BY agent_id, token_id, second
SETTINGS max_bytes_before_external_group_by = 268435456`,
  ];
}

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
  return [...createTableDdl(schemaMigrationsTable, ctx), ...MIGRATIONS.flatMap((m) => m.statements(ctx))];
}

/**
 * Brings the store's schema up to date: runs every migration not yet recorded, in order, and
 * records it. Safe to run at every start-up and from several processes at once (each statement
 * is idempotent).
 */
export async function migrate(store: Store, options: { retentionDays: number }): Promise<number[]> {
  const log = createLogger('core.migrations');
  const ctx: MigrationContext = { database: store.database, cluster: store.cluster, retentionDays: options.retentionDays };
  for (const sql of createTableDdl(schemaMigrationsTable, ctx)) await store.command(sql);
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
