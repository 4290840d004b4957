export { parseArgs, ROLES, type Args, type Role } from './args.js';
export { start, type Running } from './start.js';
export { TELEMETRY_ENV, startTelemetry, type Telemetry, type TelemetryOptions } from './telemetry.js';
export { formatSummary, importCommand, parseImportArgs, runImport, type ImportOptions, type ImportSummary } from './import-logs.js';
export { type Config, configSchema, configuration, loadConfig } from './config.js';
