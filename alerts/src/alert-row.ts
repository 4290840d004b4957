import type { AlertRow as StoredRow } from '@intentwatch/core';

/** An `alerts` row as {@link ALERT_COLUMNS} reads it back: core's row without the bookkeeping columns, UInt64 as text. */
export type AlertRow = Omit<StoredRow, 'hit_count' | 'updated_at' | 'version'> & { hit_count: string };

export const ALERT_COLUMNS =
  'id, detector, severity, title, reason, dedup_key, token_id, root_token_id, agent_id, task_id, caller, target, environment, frameworks, first_seen, last_seen, hit_count, created_at';
