import { type Grant, type SpanRow, type TokenEventRow, type TokenLineage, anyGlobMatcher, toMs } from '@intentwatch/core';
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
 * What live detection knows about a committed use. Detectors with `judgeUse` decide from it in
 * memory; for the others the screen below makes cheap checks, each a superset of its detector's
 * rule — a row the detector would report is always suspect, and a suspect row is only a reason to
 * run the detector's own SQL on it at once. A use whose grant is not known yet is left to the
 * scheduled runs (`ungoverned_token` waits for the grace window anyway).
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

/**
 * Which detectors must run their SQL on a use, for rules no detector judges in memory (those that
 * do — `judgeUse` — are asked about every use directly): a use older than any limit its session
 * could have (the default limit applies to refreshed sessions only; assuming it always keeps the
 * screen a superset), or past its session task's deadline, for refresh_extended_session.
 */
export function screenUse(use: SpanRow, facts: UseFacts, config: Pick<DetectorConfig, 'defaultMaxSessionS'>): LiveDetectorId[] {
  const lineage = facts.lineage;
  if (!lineage?.grant) return [];
  const at = toMs(use.time);
  const rootMs = lineage.session.rootTime ? toMs(lineage.session.rootTime) : undefined;
  const limitS = lineage.session.maxSessionS ?? config.defaultMaxSessionS;
  const deadline = facts.sessionTask?.deadline;
  const deadlineMs = deadline ? toMs(deadline) : undefined;
  const overdue = (rootMs !== undefined && at > rootMs + limitS * 1000) || (deadlineMs !== undefined && at > deadlineMs);
  return overdue ? ['refresh_extended_session'] : [];
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
 * What the judges read of a grant, derived once per grant (a grant is read once and kept by
 * GrantState): so a request of many uses costs each use a few set lookups, whatever the size of
 * the grant's audience, scopes or resource patterns.
 */
export interface GrantView {
  /** Audience entries as the engine compares them: lower case, a URL as its host; by length. */
  audience: Map<number, Set<string>>;
  /** The audience entries as written. */
  audienceEntries: Set<string>;
  /** `scopeList` of the grant's scopes, and as a set. */
  scopes: string[];
  scopeSet: Set<string>;
  /** The grant's resource patterns, compiled. */
  matches: (resource: string) => boolean;
}

const views = new WeakMap<Grant, GrantView>();

export function viewOf(grant: Grant): GrantView {
  let v = views.get(grant);
  if (!v) {
    const audience = new Map<number, Set<string>>();
    for (const entry of grant.audience) {
      const host = hostOf(entry).toLowerCase();
      if (host === '') continue;
      const same = audience.get(host.length) ?? new Set<string>();
      same.add(host);
      audience.set(host.length, same);
    }
    const scopes = scopeList(grant.scopes);
    v = { audience, audienceEntries: new Set(grant.audience), scopes, scopeSet: new Set(scopes), matches: anyGlobMatcher(grant.resources) };
    views.set(grant, v);
  }
  return v;
}

/**
 * `target` is one of the services of the grant's audience, by the rule of `withinAudienceSql`
 * (cross_service_reuse): case-insensitive, a URL standing for its host, a host covering its
 * subdomains (`t = a OR endsWith(t, '.' || a)`). An entry that does not parse as the engine would
 * read it compares as written, which can only make a use suspect, never excuse one.
 */
export function withinAudience(target: string, grant: Grant): boolean {
  const t = target.toLowerCase();
  for (const [length, hosts] of viewOf(grant).audience) {
    if (length > t.length) continue;
    if (length !== t.length && t.charCodeAt(t.length - length - 1) !== 46 /* . */) continue;
    if (hosts.has(length === t.length ? t : t.slice(t.length - length))) return true;
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

/** Each task's tools as a set, derived once per task read. */
const toolSets = new WeakMap<Task, Set<string>>();

export function toolsOf(task: Task): Set<string> {
  let t = toolSets.get(task);
  if (!t) {
    t = new Set(task.tools);
    toolSets.set(task, t);
  }
  return t;
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
