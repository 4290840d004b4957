/** An `alerts` row as the store returns it: the detection fields of one version of an alert. */
export interface AlertRow {
  id: string;
  detector: string;
  severity: string;
  title: string;
  reason: string;
  dedup_key: string;
  token_id: string;
  root_token_id: string;
  agent_id: string;
  task_id: string;
  caller: string;
  target: string;
  environment: string;
  frameworks: string[];
  first_seen: string;
  last_seen: string;
  hit_count: string;
  created_at: string;
}

export const ALERT_COLUMNS =
  'id, detector, severity, title, reason, dedup_key, token_id, root_token_id, agent_id, task_id, caller, target, environment, frameworks, first_seen, last_seen, hit_count, created_at';
