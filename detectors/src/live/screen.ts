import { type Grant, type SpanRow, type TokenEventRow, type TokenLineage, anyGlobMatcher, stateAt, toMs } from '@intentwatch/core';
import type { DetectorConfig } from '../define-detector.js';
import type { Task } from '../intent/intent-resolver.js';

/** The detectors live detection runs, and what makes a row suspect to each. */
export const LIVE_DETECTORS = [
  'cross_service_reuse',
  'scope_creep',
  'stale_token_use',
  'refresh_extended_session',
  'usage_anomaly',
] as const;
export type LiveDetectorId = (typeof LIVE_DETECTORS)[number];

/**
 * The screen: cheap checks, in memory, of one committed use or lifecycle event against the state
 * of its grant, each a superset of its detector's rule — a row the detector would report is
 * always suspect, and a suspect row is only a reason to run the detector's own SQL on it at once
 * (which decides, with the same findings as a scheduled run). A row whose grant is not known yet
 * is left to the scheduled runs (`ungoverned_token` waits for the grace window anyway).
 */
export interface UseFacts {
  lineage: TokenLineage | undefined;
  /** The use's task: its grant's `task.id`, else the span's. */
  task: Task | undefined;
  /** The task of the token's session (the nearest `task.id` up to its root). */
  sessionTask: Task | undefined;
}

/** What live detection knows about a lifecycle event's token, read after the event was committed. */
export interface EventFacts {
  lineage: TokenLineage | undefined;
  /** The lineage of the token it was refreshed or exchanged from, if any. */
  parent: TokenLineage | undefined;
  /** The task of the token's session. */
  sessionTask: Task | undefined;
}

/** Which detectors a use is suspect to (none for a use within everything its grant allows). */
export function screenUse(
  use: SpanRow,
  facts: UseFacts,
  config: Pick<DetectorConfig, 'clockSkewMs' | 'defaultMaxSessionS'>,
): LiveDetectorId[] {
  const lineage = facts.lineage;
  const grant = lineage?.grant;
  if (!lineage || !grant) return [];
  const out: LiveDetectorId[] = [];
  const at = toMs(use.time);

  // cross_service_reuse: outside the audience, another caller, another environment.
  const outsideAudience = grant.audience.length > 0 && use.target !== '' && !withinAudience(use.target, grant.audience);
  const otherCaller =
    grant.workloadId !== '' && use.workload_id !== ''
      ? use.workload_id !== grant.workloadId
      : grant.agentId !== '' && use.agent_id !== '' && use.agent_id !== grant.agentId;
  const otherEnvironment = grant.environment !== '' && use.environment !== '' && use.environment !== grant.environment;
  if (outsideAudience || otherCaller || otherEnvironment) out.push('cross_service_reuse');

  // scope_creep: a scope, resource or tool beyond the grant or the task's plan.
  const granted = new Set(scopeList(grant.scopes));
  const extraScope = granted.size > 0 && scopeList(use.scopes).some((s) => !granted.has(s));
  const outsideResources = use.resource !== '' && grant.resources.length > 0 && !matcherOf(grant)(use.resource);
  const task = facts.task;
  const outsideTools = use.tool !== '' && task !== undefined && task.started && task.tools.length > 0 && !task.tools.includes(use.tool);
  if (extraScope || outsideResources || outsideTools) out.push('scope_creep');

  // stale_token_use: past a revocation that reaches it, its expiry as renewed by then, or its task's end.
  const state = stateAt(lineage, at, { skewMs: config.clockSkewMs, taskEndedAt: task?.ended ? task.endedAt : null });
  if (state.status !== 'valid') out.push('stale_token_use');

  // refresh_extended_session: older than any limit its session could have (the default limit
  // applies to refreshed sessions only; assuming it always keeps the screen a superset), or past
  // its task's deadline.
  const rootMs = lineage.session.rootTime ? toMs(lineage.session.rootTime) : undefined;
  const limitS = lineage.session.maxSessionS ?? config.defaultMaxSessionS;
  const deadline = facts.sessionTask?.deadline;
  const deadlineMs = deadline ? toMs(deadline) : undefined;
  if ((rootMs !== undefined && at > rootMs + limitS * 1000) || (deadlineMs !== undefined && at > deadlineMs)) {
    out.push('refresh_extended_session');
  }
  return out;
}

/**
 * Which detectors a lifecycle event is suspect to: a refresh may be by someone other than the
 * grantee, widen its parent's grant or extend a session past its task; an exchange may widen
 * what it was exchanged from; a renewal may extend a session. These are rare next to uses, so
 * each one is examined.
 */
export function screenTokenEvent(event: Pick<TokenEventRow, 'event'>): LiveDetectorId[] {
  switch (event.event) {
    case 'refreshed':
      return ['cross_service_reuse', 'scope_creep', 'refresh_extended_session'];
    case 'exchanged':
      return ['scope_creep'];
    case 'renewed':
      return ['refresh_extended_session'];
    default:
      return [];
  }
}

/**
 * `target` is one of the services of `audience`, by the rule of `withinAudienceSql`
 * (cross_service_reuse): case-insensitive, a URL standing for its host, a host covering its
 * subdomains. An entry that does not parse as the engine would read it compares as written,
 * which can only make a use suspect, never excuse one.
 */
export function withinAudience(target: string, audience: readonly string[]): boolean {
  const t = target.toLowerCase();
  for (const entry of audience) {
    if (entry === '') continue;
    const a = hostOf(entry).toLowerCase();
    if (a === '') continue;
    if (t === a || t.endsWith(`.${a}`)) return true;
  }
  return false;
}

function hostOf(entry: string): string {
  if (!entry.includes('://')) return entry;
  try {
    return new URL(entry).hostname;
  } catch {
    return entry;
  }
}

/** Each grant's resource patterns, compiled once (a grant is read once and kept by GrantState). */
const matchers = new WeakMap<Grant, (resource: string) => boolean>();

export function matcherOf(grant: Grant): (resource: string) => boolean {
  let m = matchers.get(grant);
  if (!m) {
    m = anyGlobMatcher(grant.resources);
    matchers.set(grant, m);
  }
  return m;
}

/**
 * Scopes one by one, each once, in order of first appearance: an entry may hold several,
 * separated by whitespace (as the detectors' SQL splits them: `arrayDistinct` of
 * `splitByWhitespace`).
 */
export function scopeList(scopes: readonly string[]): string[] {
  const out = new Set<string>();
  for (const entry of scopes) for (const s of entry.split(/[ \t\n\r\f\v]+/)) if (s !== '') out.add(s);
  return [...out];
}
