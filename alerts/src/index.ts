export {
  ALERT_SORTS,
  AlertStore,
  type AlertCount,
  type AlertEvent,
  type AlertFilter,
  type AlertPage,
  type AlertSort,
  type AlertStoreOptions,
} from './alert-store.js';
export { AlertRecorder, alertId, type RecordResult } from './recorder.js';
export { AlertTriage, type TriageChange } from './triage.js';
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
} from './suppression-store.js';
export {
  ALERT_STATUSES,
  SEVERITIES,
  detectionFields,
  severityRank,
  type Alert,
  type AlertNote,
  type AlertSource,
  type AlertStatus,
  type Evidence,
  type Finding,
  type Severity,
  type StoredAlertRow,
} from './model.js';
