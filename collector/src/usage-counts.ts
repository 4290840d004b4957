import type { SpanRow, UsageCountRow } from '@intentwatch/core';

/** One agent's uses of one token in one second, being counted. */
interface Tally {
  agent_id: string;
  token_id: string;
  second: string;
  requests: number;
  targets: Set<string>;
  ingested_from: string;
}

/**
 * Counts span rows into `usage_counts` rows: per agent, token and second of event time, the
 * token uses (spans with a `token_id`), their distinct targets and earliest ingestion time. A
 * use whose time is not an RFC 3339 UTC time between 1970 and 2105 is not counted
 * (`usage_anomaly`'s buckets are `DateTime`s; it leaves those to the other detectors). O(rows),
 * no parsing: the second is the time's first 19 characters.
 */
export class UsageCounter {
  readonly #tallies = new Map<string, Tally>();

  /** Counts the uses among `spans[from, to)`. */
  add(spans: readonly SpanRow[], from = 0, to = spans.length): void {
    for (let i = from; i < to; i++) {
      const s = spans[i] as SpanRow;
      // Rows as the normaliser builds them; a partial row (tests, defaults) counts only with a token and a time.
      if (!s.token_id || typeof s.time !== 'string') continue;
      const second = secondOf(s.time);
      if (second !== undefined) this.#add(s.agent_id ?? '', s.token_id, second, 1, [s.target ?? ''], s.ingested_at ?? s.time);
    }
  }

  /** Adds rows counted before (the rows of the same agent, token and second added together). */
  addCounts(rows: readonly UsageCountRow[]): void {
    for (const c of rows) this.#add(c.agent_id, c.token_id, c.second, Number(c.requests), c.targets, c.ingested_from);
  }

  rows(): UsageCountRow[] {
    const rows: UsageCountRow[] = [];
    for (const t of this.#tallies.values()) {
      rows.push({
        agent_id: t.agent_id,
        token_id: t.token_id,
        second: t.second,
        requests: t.requests,
        targets: [...t.targets],
        ingested_from: t.ingested_from,
      });
    }
    return rows;
  }

  #add(agent: string, token: string, second: string, requests: number, targets: readonly string[], ingested: string): void {
    // Agent ids and tokens may hold any character: the key separates them by the agent's length.
    const key = `${agent.length}:${agent}${token}\u0000${second}`;
    let t = this.#tallies.get(key);
    if (!t) {
      t = { agent_id: agent, token_id: token, second, requests: 0, targets: new Set(), ingested_from: ingested };
      this.#tallies.set(key, t);
    } else if (ingested < t.ingested_from) t.ingested_from = ingested;
    t.requests += requests;
    for (const target of targets) t.targets.add(target);
  }
}

/** The `usage_counts` rows of some span rows (see {@link UsageCounter}). */
export function usageCountsOf(spans: readonly SpanRow[]): UsageCountRow[] {
  const counter = new UsageCounter();
  counter.add(spans);
  return counter.rows();
}

/** Several lists of counts as one, the rows of the same agent, token and second added together. */
export function mergeUsageCounts(lists: readonly (readonly UsageCountRow[])[]): UsageCountRow[] {
  if (lists.length === 1) return [...(lists[0] as UsageCountRow[])];
  const counter = new UsageCounter();
  for (const list of lists) counter.addCounts(list);
  return counter.rows();
}

/** `2026-12-03T10:00:00.123456789Z` → `2026-12-03T10:00:00Z`; undefined for another form or a year outside 1970–2105. */
function secondOf(time: string): string | undefined {
  if (time.length < 20 || time.charCodeAt(10) !== 84 /* T */ || time.charCodeAt(time.length - 1) !== 90 /* Z */) return undefined;
  const year = time.slice(0, 4);
  if (year < '1970' || year > '2105') return undefined;
  return `${time.slice(0, 19)}Z`;
}
