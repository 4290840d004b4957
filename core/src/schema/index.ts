/**
 * Every table of the store, one file each: its DDL, its row and its columns (see
 * {@link TableSchema}). `Store.insert` takes the row type of the table it writes from
 * {@link TableRows}, so a writer that forgets a column, or names one the table lacks, does not
 * compile.
 */
import { alertEvents, type AlertEventRow } from './alert-events.js';
import { alertHits, type AlertHitRow } from './alert-hits.js';
import { alertTriage, type AlertTriageRow } from './alert-triage.js';
import { alerts, type AlertRow } from './alerts.js';
import { deliveries, type DeliveryRow } from './deliveries.js';
import { deliveryDeadLetters, type DeliveryDeadLetterRow } from './delivery-dead-letters.js';
import { detectorState, type DetectorStateRow } from './detector-state.js';
import { responderPolicies, type ResponderPolicyRow } from './responder-policies.js';
import { responderPolicyState, type ResponderPolicyStateRow } from './responder-policy-state.js';
import { responderState, type ResponderStateRow } from './responder-state.js';
import { revocations, type RevocationRow } from './revocations.js';
import { schemaMigrations, type SchemaMigrationRow } from './schema-migrations.js';
import { spans, type SpanRow } from './spans.js';
import { ssfKeys, type SsfKeyRow } from './ssf-keys.js';
import { ssfStreams, type SsfStreamRow } from './ssf-streams.js';
import { suppressions, type SuppressionRow } from './suppressions.js';
import type { TableSchema } from './table-schema.js';
import { taskEvents, type TaskEventRow } from './task-events.js';
import { tokenEvents, type TokenEventRow } from './token-events.js';
import { usageBuckets, type UsageBucketRow } from './usage-buckets.js';
import { usageCounts, type UsageCountRow } from './usage-counts.js';

/** The row each table takes, by table name. */
export interface TableRows {
  schema_migrations: SchemaMigrationRow;
  spans: SpanRow;
  token_events: TokenEventRow;
  task_events: TaskEventRow;
  alerts: AlertRow;
  alert_hits: AlertHitRow;
  alert_triage: AlertTriageRow;
  alert_events: AlertEventRow;
  detector_state: DetectorStateRow;
  usage_buckets: UsageBucketRow;
  usage_counts: UsageCountRow;
  suppressions: SuppressionRow;
  revocations: RevocationRow;
  deliveries: DeliveryRow;
  delivery_dead_letters: DeliveryDeadLetterRow;
  responder_policies: ResponderPolicyRow;
  responder_policy_state: ResponderPolicyStateRow;
  responder_state: ResponderStateRow;
  ssf_keys: SsfKeyRow;
  ssf_streams: SsfStreamRow;
}

export type TableName = keyof TableRows;

/** Every table's schema, by table name. */
export const TABLES: { readonly [T in TableName]: TableSchema<TableRows[T]> } = {
  schema_migrations: schemaMigrations,
  spans,
  token_events: tokenEvents,
  task_events: taskEvents,
  alerts,
  alert_hits: alertHits,
  alert_triage: alertTriage,
  alert_events: alertEvents,
  detector_state: detectorState,
  usage_buckets: usageBuckets,
  usage_counts: usageCounts,
  suppressions,
  revocations,
  deliveries,
  delivery_dead_letters: deliveryDeadLetters,
  responder_policies: responderPolicies,
  responder_policy_state: responderPolicyState,
  responder_state: responderState,
  ssf_keys: ssfKeys,
  ssf_streams: ssfStreams,
};

export * from './alert-events.js';
export * from './alert-hits.js';
export * from './alert-triage.js';
export * from './alerts.js';
export * from './deliveries.js';
export * from './delivery-dead-letters.js';
export * from './detector-state.js';
export * from './responder-policies.js';
export * from './responder-policy-state.js';
export * from './responder-state.js';
export * from './revocations.js';
export * from './schema-migrations.js';
export * from './spans.js';
export * from './ssf-keys.js';
export * from './ssf-streams.js';
export * from './suppressions.js';
export * from './task-events.js';
export * from './token-events.js';
export * from './usage-buckets.js';
export * from './usage-counts.js';
export * from './table-schema.js';
