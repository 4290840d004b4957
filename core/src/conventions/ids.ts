import { ATTR } from './attributes.js';

/**
 * Longest identifier (token, parent token, task, agent, workload, environment) intentwatch stores
 * and looks up, in UTF-16 units. One rule for both ends: ingest cuts a longer one to this length
 * (counted with the truncated attributes, as INTENTWATCH_MAX_ATTRIBUTE_LENGTH cuts other values),
 * and the API takes any identifier up to it — control characters included — in a path, a filter
 * or a suppression, so that everything stored can be found, filtered and suppressed.
 */
export const MAX_ID_LENGTH = 4096;

/** The attributes whose values are identifiers ({@link MAX_ID_LENGTH}). */
export const ID_ATTRIBUTES: ReadonlySet<string> = new Set([
  ATTR.tokenId,
  ATTR.tokenParentId,
  ATTR.taskId,
  ATTR.agentId,
  ATTR.workloadId,
  ATTR.workloadIdAlias,
  ATTR.environment,
  ATTR.environmentLegacy,
]);
