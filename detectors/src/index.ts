export {
  AlertStore,
  alertId,
  type AlertEvent,
  type AlertFilter,
  type AlertPage,
  type AlertStoreOptions,
  type RecordResult,
  type TriageChange,
} from './alerts/alert-store.js';
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
