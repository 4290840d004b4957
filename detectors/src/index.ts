export {
  ALERT_SORTS,
  AlertStore,
  alertId,
  type AlertCount,
  type AlertEvent,
  type AlertFilter,
  type AlertPage,
  type AlertSort,
  type AlertStoreOptions,
  type RecordResult,
  type TriageChange,
} from './alerts/alert-store.js';
export {
  ANY_DETECTOR,
  SUPPRESSION_SCOPES,
  SuppressionStore,
  suppressionIndexSql,
  suppressionMatches,
  type NewSuppression,
  type SuppressibleAlert,
  type Suppression,
  type SuppressionMatcher,
  type SuppressionScope,
} from './alerts/suppression-store.js';
export {
  ALERT_STATUSES,
  SEVERITIES,
  severityRank,
  type Alert,
  type AlertNote,
  type AlertSource,
  type AlertStatus,
  type Evidence,
  type Finding,
  type Severity,
} from './alerts/model.js';
export {
  defineDetector,
  type DetectContext,
  type Detector,
  type DetectorConfig,
  type DetectorDefinition,
  type RunWindow,
} from './define-detector.js';
export { IntentResolver, type Task } from './intent/intent-resolver.js';
export { DETECTORS } from './rules/index.js';
export { DetectorRunner, type RunReport } from './runner/detector-runner.js';
export { DetectorService, type DetectorServiceConfig, type DetectorServiceOptions } from './runner/detector-service.js';
export { Watermarks } from './runner/watermarks.js';
export * from './responders/index.js';
