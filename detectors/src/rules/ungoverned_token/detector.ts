import type { Finding } from '@intentwatch/alerts';
import { type Row, defineDetector } from '../../define-detector.js';
import { GRANT_EVENTS_SQL } from '@intentwatch/core';
import { usesSql } from '../../intent/sql.js';
import { FW } from '../frameworks.js';
import { agentPhrase } from '../reason.js';
import { DEFAULT_DETECTOR_SETTINGS } from '../../settings.js';

/**
 * A token that no broker describes: used, but no `issued`, `refreshed` or `exchanged` event
 * names it — judged only once the grace window for late events has passed since the use
 * arrived, so a grant that is merely late never raises it.
 */
export const ungovernedToken = defineDetector({
  id: 'ungoverned_token',
  title: 'Token used without any grant',
  severity: 'medium',
  description:
    'A token is used that no issued/refreshed/exchanged event describes, once a grace window for late events (INTENTWATCH_GRACE_MS) has passed. Medium.',
  frameworks: [FW.asi03, FW.nhi2, FW.nhi7, FW.atlasRawData],
  falsePositives: [
    'A broker that is not (yet) instrumented: its tokens are all ungoverned — instrument it or post its events to /v1/token-events.',
    'The agent fingerprints the token differently from the broker (e.g. sha256 of the whole header vs the jti).',
  ],
  runbook: [
    'Find where the token came from: a static API key in code or config, a copied secret, or an uninstrumented broker.',
    'If it is a long-lived secret, rotate it and move the agent to brokered, task-scoped tokens.',
  ],
  tuning: [`INTENTWATCH_GRACE_MS (default ${DEFAULT_DETECTOR_SETTINGS.graceMs}): how long a use waits for its grant before it is judged.`],
  // Judge a use only after the grace window: this detector's window ends at now − grace.
  settleMs: (config) => config.graceMs,
  recheck: false,
  query: () => `
    WITH uses AS (${usesSql({ recheck: false })})
    SELECT u.token_id AS token_id, u.time AS time, u.trace_id AS trace_id, u.span_id AS span_id,
           u.task_id AS task_id, u.agent_id AS agent_id, u.caller AS caller, u.target AS target, u.environment AS environment
    FROM uses AS u
    WHERE u.token_id NOT IN (
      SELECT token_id FROM token_events
      WHERE event IN ${GRANT_EVENTS_SQL} AND token_id IN (SELECT token_id FROM uses)
    )`,
  toAlert: (r: Row, ctx): Finding => ({
    key: 'ungoverned',
    severity: 'medium',
    reason: `token ${r.token_id} was used by ${agentPhrase(r.agent_id)}${r.target ? ` against ${r.target}` : ''}${
      r.task_id ? ` for task ${r.task_id}` : ''
    }, but no issued, refreshed or exchanged event describes it (none arrived within ${Math.round(ctx.config.graceMs / 1000)} s): an ungoverned credential with no known intent`,
    tokenId: r.token_id,
    rootTokenId: r.token_id,
    agentId: r.agent_id,
    taskId: r.task_id,
    caller: r.caller,
    target: r.target,
    environment: r.environment,
    evidence: { traceId: r.trace_id, spanId: r.span_id, time: r.time },
  }),
});
