import type { Store } from '@intentwatch/core';
import { toMs } from '../time.js';
import { END_EVENTS, GRANT_EVENTS } from './sql.js';

/** A token's grant: its first issued/refreshed/exchanged event (CONVENTIONS.md §1.2). */
export interface Grant {
  tokenId: string;
  event: 'issued' | 'refreshed' | 'exchanged';
  /** Event time as the store returns it (RFC 3339). */
  time: string;
  parentId: string;
  taskId: string;
  agentId: string;
  workloadId: string;
  audience: string[];
  scopes: string[];
  resources: string[];
  expiresAt: string | null;
  maxSessionS: number | null;
  environment: string;
  traceId: string;
  spanId: string;
}

/**
 * A token's session: the root `issued` token and the `refreshed` links down to it. An
 * `exchanged` token starts a session of its own (a new hop of the delegation chain).
 */
export interface Session {
  rootTokenId: string;
  /** Issue time of the root (RFC 3339), when its grant is known. */
  rootTime: string | undefined;
  /** False while a grant on the way to the root has not arrived (yet). */
  complete: boolean;
  /** The tokens from this one up to the root, this one first. */
  chain: Grant[];
  /** The session's limit in seconds: the root's `token.max_session_s`, else the tightest in the chain. */
  maxSessionS: number | undefined;
  /** The session's task: the nearest `task.id` from this token up to the root. */
  taskId: string;
}

export interface Task {
  taskId: string;
  started: boolean;
  intent: string;
  tools: string[];
  deadline: string | null;
  ended: boolean;
  endedAt: string | null;
  endEvent: string;
}

interface GrantRow {
  token_id: string;
  event: string;
  time: string;
  parent_id: string;
  task_id: string;
  agent_id: string;
  workload_id: string;
  audience: string[];
  scopes: string[];
  resources: string[];
  expires_at: string | null;
  max_session_s: number | string | null;
  environment: string;
  trace_id: string;
  span_id: string;
}

/** Longest refresh or delegation chain followed; deeper chains are cut (and reported incomplete). */
const MAX_DEPTH = 32;

/**
 * Resolves intent from the lifecycle tables: grants, sessions (refresh chains) and delegation
 * chains (exchange links), and tasks. Chains are followed in JavaScript with one primary-key
 * lookup of `token_events` per hop for all tokens at once — recursion that SQL expresses poorly,
 * over tables that are small next to `spans`.
 */
export class IntentResolver {
  readonly #store: Store;
  readonly #grants = new Map<string, Grant | null>();

  constructor(store: Store) {
    this.#store = store;
  }

  /** Grants of `tokenIds` and of every ancestor up their chains. Missing grants map to null. */
  async grants(tokenIds: Iterable<string>): Promise<Map<string, Grant | null>> {
    let wanted = [...new Set(tokenIds)].filter((t) => t && !this.#grants.has(t));
    for (let depth = 0; wanted.length > 0 && depth < MAX_DEPTH; depth++) {
      const rows = await this.#store.query<GrantRow>(
        `SELECT token_id, event, time, parent_id, task_id, agent_id, workload_id, audience, scopes, resources,
                expires_at, max_session_s, environment, trace_id, span_id
         FROM token_events
         WHERE event IN ${GRANT_EVENTS} AND token_id IN {ids:Array(String)}
         ORDER BY token_id, time, span_id
         LIMIT 1 BY token_id`,
        { ids: wanted },
      );
      for (const id of wanted) this.#grants.set(id, null);
      const parents: string[] = [];
      for (const r of rows) {
        const g = toGrant(r);
        this.#grants.set(g.tokenId, g);
        if (g.parentId && !this.#grants.has(g.parentId)) parents.push(g.parentId);
      }
      wanted = [...new Set(parents)];
    }
    const out = new Map<string, Grant | null>();
    const visit = (id: string, depth: number) => {
      if (out.has(id) || depth > MAX_DEPTH) return;
      const g = this.#grants.get(id) ?? null;
      out.set(id, g);
      if (g?.parentId) visit(g.parentId, depth + 1);
    };
    for (const id of tokenIds) visit(id, 0);
    return out;
  }

  /** The session of each token (see {@link Session}). */
  async sessions(tokenIds: Iterable<string>): Promise<Map<string, Session>> {
    const ids = [...new Set(tokenIds)];
    const grants = await this.grants(ids);
    const out = new Map<string, Session>();
    for (const id of ids) out.set(id, sessionOf(id, grants));
    return out;
  }

  /** Tasks by id: plan (from `started`) and end. Unknown tasks are absent. */
  async tasks(taskIds: Iterable<string>): Promise<Map<string, Task>> {
    const ids = [...new Set(taskIds)].filter(Boolean);
    const out = new Map<string, Task>();
    if (ids.length === 0) return out;
    const rows = await this.#store.query<{
      task_id: string;
      started: number;
      intent: string;
      tools: string[];
      deadline: string | null;
      ended: number;
      ended_at: string;
      end_event: string;
    }>(
      `SELECT task_id, countIf(event = 'started') > 0 AS started,
              argMinIf(intent, time, event = 'started') AS intent, argMinIf(tools, time, event = 'started') AS tools,
              argMinIf(deadline, time, event = 'started') AS deadline,
              countIf(event IN ${END_EVENTS}) > 0 AS ended, minIf(time, event IN ${END_EVENTS}) AS ended_at,
              argMinIf(event, time, event IN ${END_EVENTS}) AS end_event
       FROM task_events WHERE task_id IN {ids:Array(String)} GROUP BY task_id`,
      { ids },
    );
    for (const r of rows) {
      out.set(r.task_id, {
        taskId: r.task_id,
        started: Boolean(Number(r.started)),
        intent: r.intent,
        tools: r.tools,
        deadline: r.deadline,
        ended: Boolean(Number(r.ended)),
        endedAt: Number(r.ended) ? r.ended_at : null,
        endEvent: r.end_event,
      });
    }
    return out;
  }

  /**
   * Tokens derived from `tokenIds` by refresh or exchange, transitively (the tokens whose
   * intent a late event about an ancestor may change).
   */
  async descendants(tokenIds: Iterable<string>): Promise<Set<string>> {
    const all = new Set<string>();
    let frontier = [...new Set(tokenIds)];
    for (let depth = 0; frontier.length > 0 && depth < MAX_DEPTH; depth++) {
      const rows = await this.#store.query<{ token_id: string }>(
        `SELECT DISTINCT token_id FROM token_events WHERE parent_id IN {ids:Array(String)} AND event IN ('refreshed', 'exchanged')`,
        { ids: frontier },
      );
      frontier = rows.map((r) => r.token_id).filter((t) => !all.has(t));
      for (const t of frontier) all.add(t);
    }
    return all;
  }
}

function toGrant(r: GrantRow): Grant {
  return {
    tokenId: r.token_id,
    event: r.event as Grant['event'],
    time: r.time,
    parentId: r.parent_id,
    taskId: r.task_id,
    agentId: r.agent_id,
    workloadId: r.workload_id,
    audience: r.audience,
    scopes: r.scopes,
    resources: r.resources,
    expiresAt: r.expires_at,
    maxSessionS: r.max_session_s === null ? null : Number(r.max_session_s),
    environment: r.environment,
    traceId: r.trace_id,
    spanId: r.span_id,
  };
}

/** Walks `refreshed` links from `tokenId` to the session root through `grants`. */
export function sessionOf(tokenId: string, grants: ReadonlyMap<string, Grant | null>): Session {
  const chain: Grant[] = [];
  let id = tokenId;
  let complete = true;
  const seen = new Set<string>();
  for (;;) {
    const g = grants.get(id) ?? null;
    if (!g) {
      // The grant of `id` has not arrived: it is the furthest known point of the session.
      complete = false;
      break;
    }
    chain.push(g);
    if (g.event !== 'refreshed' || !g.parentId) break;
    if (seen.has(g.parentId) || chain.length > MAX_DEPTH) {
      complete = false;
      break;
    }
    seen.add(id);
    id = g.parentId;
  }
  const root = chain[chain.length - 1];
  const rootTokenId = root && root.event !== 'refreshed' ? root.tokenId : id;
  const limits = chain.map((g) => g.maxSessionS).filter((s): s is number => s !== null);
  const rootLimit = root && root.event !== 'refreshed' ? root.maxSessionS : null;
  return {
    rootTokenId,
    rootTime: root && root.event !== 'refreshed' ? root.time : undefined,
    complete: complete && root?.event !== 'refreshed',
    chain,
    maxSessionS: rootLimit ?? (limits.length ? Math.min(...limits) : undefined),
    taskId: chain.find((g) => g.taskId)?.taskId ?? '',
  };
}

/** Epoch ms of a grant or task time, or undefined. */
export function msOf(value: string | null | undefined): number | undefined {
  return value ? toMs(value) : undefined;
}
