export { API_ROLES, SecretKey, loadConfig, type ApiKeySpec, type ApiRole, type Config } from './config.js';
export { ConfigError, HttpError, IntentwatchError, StoreError } from './errors.js';
export { createLogger, rootLogger, type Logger } from './logger.js';
export { collectProcessMetrics, counter, gauge, histogram, registry } from './metrics.js';
export {
  MAX_STORE_MS,
  MIN_STORE_MS,
  isStorableMs,
  msToDateTime64,
  msToRfc3339,
  nanosToDateTime64,
  nanosToMs,
  nanosToRfc3339,
  parseStoreTime,
} from './time.js';
export * from './conventions/attributes.js';
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
export { Store, quoteIdentifier, type InsertFormat, type QueryParams, type StoreConfig, type StoreKind } from './store/store.js';
export { addColumnDdl, createTableDdl, replicatedEngine, type DdlTarget, type TableSpec } from './store/table-spec.js';
export { MIGRATIONS, migrate, migrationSql, registerMigrations, type Migration, type MigrationContext } from './store/migrations.js';
export { fingerprint, looksLikeSecret, namesCredential, redactSecrets, redactText } from '@intentwatch/conventions';
