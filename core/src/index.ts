export { type CoreSettings, coreSettings, coreVariables, defaultApiUrl } from './config.js';
export {
  type ComposedSettings,
  type Settings,
  type SettingsOf,
  SecretKey,
  bool,
  composeSettings,
  defineSettings,
  keyList,
  optionalString,
  port,
  positiveInt,
  url,
} from './settings.js';
export {
  ConfigError,
  ConflictError,
  HttpError,
  IntentwatchError,
  InvalidInputError,
  NotFoundError,
  StoreError,
  TooManyRequestsError,
  UnavailableError,
} from './errors.js';
export { createLogger, rootLogger, type Logger } from './logger.js';
export { REDACTED_PASSWORD, redactUrlPasswords } from './redact-url.js';
export { shownAuditName } from './audit-name.js';
export { rfc3339ToDateTime64, toMs } from './query-time.js';
export { nextVersion } from './row-version.js';
export { hostOfHeader, isLoopbackHost, loopbackHostGuard } from './loopback-host.js';
export { collectProcessMetrics, counter, gauge, histogram, registry } from './metrics.js';
export {
  MAX_STORE_MS,
  MAX_STORE_NANOS,
  MIN_STORE_MS,
  MIN_STORE_NANOS,
  STORE_TIME_RANGE,
  isStorableMs,
  isStorableNanos,
  rfc3339ToNanos,
  msToDateTime64,
  msToRfc3339,
  nanosToDateTime64,
  nanosToMs,
  nanosToRfc3339,
  parseStoreTime,
} from './time.js';
export * from './conventions/attributes.js';
export { ID_ATTRIBUTES, MAX_ID_LENGTH } from './conventions/ids.js';
export {
  MAX_GLOB_LENGTH,
  MAX_GLOB_WILDCARDS,
  type CompiledGlob,
  anyGlobMatcher,
  compileGlob,
  globProblem,
  globToClickHouseRegex,
  matchesAnyGlob,
  matchesGlob,
} from './conventions/glob.js';
export { type NormalizedResource, normalizeResource, percentDecode } from './conventions/resource.js';
export {
  DEFAULT_ENGINE_BOUNDS,
  ENGINE_MEMORY_METRICS,
  Store,
  engineArgs,
  quoteIdentifier,
  type EngineBounds,
  type InsertFormat,
  type OnlyColumns,
  type QueryParams,
  type StoreConfig,
  type StoreKind,
  type WriteListener,
} from './store/store.js';
export { registerEngineMetrics } from './store/engine-metrics.js';
export { addColumnDdl, createTableDdl, replicatedEngine, type DdlTarget, type TableSpec } from './store/table-spec.js';
export { MIGRATIONS, migrate, migrationSql, registerMigrations, type Migration, type MigrationContext } from './store/migrations.js';
export {
  TABLES,
  columnList,
  type AlertEventRow,
  type AlertHitRow,
  type AlertRow,
  type AlertTriageRow,
  type AllKeys,
  type DeliveryDeadLetterRow,
  type DeliveryRow,
  type DetectorStateRow,
  type ResponderPolicyRow,
  type ResponderPolicyStateRow,
  type ResponderStateRow,
  type RevocationRow,
  type SchemaContext,
  type SchemaMigrationRow,
  type SpanRow,
  type SsfKeyRow,
  type SsfStreamRow,
  type SuppressionRow,
  type TableName,
  type TableRows,
  type TableSchema,
  type TaskEventRow,
  type TokenEventRow,
  type UInt64,
  type UsageBucketRow,
  type UsageCountRow,
} from './schema/index.js';
export { fingerprint, looksLikeSecret, namesCredential, redactSecrets, redactText } from '@intentwatch/conventions';
export * from './lineage/index.js';
