import type { TokenEventRow } from '../schema/token-events.js';
import type { Store } from '../store/store.js';
import { parseStoreTime } from '../time.js';
import { GRANT_EVENTS_SQL } from './sql.js';

/** A token's grant: its first issued/refreshed/exchanged event (docs/conventions.md §1.2). */
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
  /** The session's grantee: the agent (and workload) its root was granted to; '' when unknown. */
  grantee: string;
  granteeWorkload: string;
}

/** How a token lost its authority: its own revocation, its session's, or a delegating ancestor's. */
export type RevokedVia = 'self' | 'session' | 'delegator';

/** A `revoked` event that ends a token's authority, and how it reaches the token. */
export interface LineageRevocation {
  /** The token whose `revoked` event it is. */
  tokenId: string;
  /** Event time (RFC 3339, as stored). */
  at: string;
  atMs: number;
  reason: string;
  via: RevokedVia;
}

/** A `renewed` event: the same token lives on until `expiresAt`. */
export interface Renewal {
  at: string;
  atMs: number;
  expiresAt: string;
  expiresAtMs: number;
}

/** Everything the lineage rules need about one token. */
export interface TokenLineage {
  tokenId: string;
  /** Its grant, or null when none has arrived (an ungoverned token, or a late grant). */
  grant: Grant | null;
  session: Session;
  /** The delegation chain as session roots, from the origin grant to this token's session root. */
  delegation: string[];
  /** Every revocation that reaches this token, earliest first. */
  revocations: LineageRevocation[];
  /** The token's own renewals, earliest first. */
  renewals: Renewal[];
}

/**
 * A token's effective state at an instant:
 * `valid`; `expired` (past its expiry as renewed by then); `revoked` (its own `revoked` event);
 * `revoked_through_session` (another token of its session was revoked); `revoked_through_delegator`
 * (a token it was exchanged from, transitively, was revoked); `task_ended`.
 */
export type TokenStatus = 'valid' | 'expired' | 'revoked' | 'revoked_through_session' | 'revoked_through_delegator' | 'task_ended';

export interface EffectiveState {
  status: TokenStatus;
  /** The earliest revocation in force at the instant, if any. */
  revoked: LineageRevocation | null;
  /** Expiry in force at the instant (the grant's, pushed later by renewals up to then), RFC 3339. */
  expiresAt: string | null;
  /** The latest expiry a renewal set by then, when the token was renewed. */
  renewedUntil: string | null;
  /** When the token's task ended, if it had by then. */
  taskEndedAt: string | null;
}

/** Longest refresh or delegation chain followed; deeper chains are cut (and reported incomplete). */
export const MAX_LINEAGE_DEPTH = 32;
/** Most tokens one walk down a lineage collects: a runaway refresh loop must stay bounded. */
export const MAX_LINEAGE_TOKENS = 5000;

/** A grant as the lineage queries read it from `token_events`. */
type GrantRow = Omit<TokenEventRow, 'ingested_at' | 'revoked_reason' | 'caller' | 'source' | 'attributes'>;

/** A revocation or renewal as the lineage queries read it. */
type LifeRow = Pick<TokenEventRow, 'token_id' | 'event' | 'time' | 'expires_at' | 'revoked_reason'>;

/**
 * Reads lineage from `token_events` for many tokens at once: grants up the refresh and exchange
 * links, sessions, delegation chains, descendants, and every revocation and renewal that decides
 * a token's effective state. Chains are followed one primary-key lookup (up) or one parent-index
 * lookup (down) per level, for all tokens of a level together, at most
 * {@link MAX_LINEAGE_DEPTH} levels — so the cost follows the lineages asked about, not history.
 * Results are cached for the life of the instance: make one per detector run or per request.
 */
export class Lineage {
  readonly #store: Store;
  readonly #grants = new Map<string, Grant | null>();
  readonly #children = new Map<string, { tokenId: string; event: string }[]>();
  readonly #life = new Map<string, LifeRow[]>();

  constructor(store: Store) {
    this.#store = store;
  }

  /** Grants of `tokenIds` and of every ancestor up their chains. Missing grants map to null. */
  async grants(tokenIds: Iterable<string>): Promise<Map<string, Grant | null>> {
    const asked = [...new Set(tokenIds)].filter(Boolean);
    let wanted = asked.filter((t) => !this.#grants.has(t));
    for (let depth = 0; depth <= MAX_LINEAGE_DEPTH; depth++) {
      if (wanted.length > 0) {
        const rows = await this.#store.query<GrantRow>(
          `SELECT token_id, event, time, parent_id, task_id, agent_id, workload_id, audience, scopes, resources,
                  expires_at, max_session_s, environment, trace_id, span_id
           FROM token_events
           WHERE event IN ${GRANT_EVENTS_SQL} AND token_id IN {ids:Array(String)}
           ORDER BY token_id, time, span_id
           LIMIT 1 BY token_id`,
          { ids: wanted },
        );
        for (const id of wanted) this.#grants.set(id, null);
        for (const r of rows) this.#grants.set(r.token_id, toGrant(r));
      }
      // Parents not yet known, including those of grants cached by an earlier call.
      const next = new Set<string>();
      for (const id of depth === 0 ? asked : wanted) {
        const p = this.#grants.get(id)?.parentId;
        if (p && !this.#grants.has(p)) next.add(p);
      }
      if (depth === 0) for (const id of this.#ancestorsKnown(asked)) next.add(id);
      wanted = [...next];
      if (wanted.length === 0) break;
    }
    const out = new Map<string, Grant | null>();
    const visit = (id: string, depth: number) => {
      if (out.has(id) || depth > MAX_LINEAGE_DEPTH) return;
      const g = this.#grants.get(id) ?? null;
      out.set(id, g);
      if (g?.parentId) visit(g.parentId, depth + 1);
    };
    for (const id of asked) visit(id, 0);
    return out;
  }

  /** Parents, up the cached chains of `ids`, whose grants were never asked for. */
  #ancestorsKnown(ids: string[]): string[] {
    const out: string[] = [];
    for (const start of ids) {
      let id = start;
      for (let d = 0; d < MAX_LINEAGE_DEPTH; d++) {
        const g = this.#grants.get(id);
        if (!g?.parentId) break;
        if (!this.#grants.has(g.parentId)) {
          out.push(g.parentId);
          break;
        }
        id = g.parentId;
      }
    }
    return out;
  }

  /** The session of each token (see {@link Session}). */
  async sessions(tokenIds: Iterable<string>): Promise<Map<string, Session>> {
    const ids = [...new Set(tokenIds)].filter(Boolean);
    const grants = await this.grants(ids);
    return new Map(ids.map((id) => [id, sessionOf(id, grants)]));
  }

  /**
   * For each of `roots`, every token derived from it through `events` links (breadth first,
   * the root itself excluded), at most {@link MAX_LINEAGE_TOKENS} per root.
   */
  async descendants(
    roots: Iterable<string>,
    events: readonly ('refreshed' | 'exchanged')[] = ['refreshed', 'exchanged'],
  ): Promise<Map<string, string[]>> {
    const unique = [...new Set(roots)].filter(Boolean);
    const follows = (e: string) => (events as readonly string[]).includes(e);
    // Load the links level by level for all roots together, then walk each root's tree in memory.
    const seen = new Set(unique);
    let frontier = unique;
    for (let depth = 0; frontier.length > 0 && depth < MAX_LINEAGE_DEPTH && seen.size < MAX_LINEAGE_TOKENS * 4; depth++) {
      await this.#loadChildren(frontier);
      const next: string[] = [];
      for (const parent of frontier) {
        for (const c of this.#children.get(parent) ?? []) {
          if (!follows(c.event) || seen.has(c.tokenId)) continue;
          seen.add(c.tokenId);
          next.push(c.tokenId);
        }
      }
      frontier = next;
    }
    const out = new Map<string, string[]>();
    for (const root of unique) {
      const list: string[] = [];
      const reached = new Set([root]);
      let level = [root];
      for (let depth = 0; level.length > 0 && depth < MAX_LINEAGE_DEPTH && list.length < MAX_LINEAGE_TOKENS; depth++) {
        const next: string[] = [];
        for (const parent of level) {
          for (const c of this.#children.get(parent) ?? []) {
            if (!follows(c.event) || reached.has(c.tokenId) || list.length >= MAX_LINEAGE_TOKENS) continue;
            reached.add(c.tokenId);
            list.push(c.tokenId);
            next.push(c.tokenId);
          }
        }
        level = next;
      }
      out.set(root, list);
    }
    return out;
  }

  /** Direct links down from each of `parents`: the tokens refreshed or exchanged from it, oldest first. */
  async children(parents: Iterable<string>): Promise<Map<string, { tokenId: string; event: string }[]>> {
    const ids = [...new Set(parents)].filter(Boolean);
    await this.#loadChildren(ids);
    return new Map(ids.map((id) => [id, this.#children.get(id) ?? []]));
  }

  async #loadChildren(parents: string[]): Promise<void> {
    const missing = parents.filter((p) => !this.#children.has(p));
    if (missing.length === 0) return;
    const rows = await this.#store.query<{ token_id: string; parent_id: string; link: string }>(
      `SELECT token_id, parent_id, argMin(event, time) AS link FROM token_events
       WHERE parent_id IN {ids:Array(String)} AND event IN ('refreshed', 'exchanged')
       GROUP BY token_id, parent_id
       ORDER BY min(time), token_id
       LIMIT {cap:UInt32}`,
      { ids: missing, cap: MAX_LINEAGE_TOKENS * 4 },
    );
    for (const p of missing) this.#children.set(p, []);
    for (const r of rows) this.#children.get(r.parent_id)?.push({ tokenId: r.token_id, event: r.link });
  }

  /** Session roots of `tokenIds` (up the refresh links). */
  async sessionRoots(tokenIds: Iterable<string>): Promise<Map<string, string>> {
    const sessions = await this.sessions(tokenIds);
    return new Map([...sessions].map(([id, s]) => [id, s.rootTokenId]));
  }

  /**
   * Tokens whose effective state a lifecycle event about `tokenIds` may change: each token's
   * whole session (up to its root, then every refresh) and everything delegated from it.
   */
  async affected(tokenIds: Iterable<string>): Promise<Set<string>> {
    const ids = [...new Set(tokenIds)].filter(Boolean);
    const roots = [...new Set((await this.sessionRoots(ids)).values())];
    const out = new Set([...ids, ...roots]);
    for (const list of (await this.descendants(roots)).values()) for (const t of list) out.add(t);
    return out;
  }

  /** The lineage of each token (see {@link TokenLineage}). */
  async lineages(tokenIds: Iterable<string>): Promise<Map<string, TokenLineage>> {
    const ids = [...new Set(tokenIds)].filter(Boolean);
    const out = new Map<string, TokenLineage>();
    if (ids.length === 0) return out;
    const grants = await this.grants(ids);
    const shaped = ids.map((id) => {
      const session = sessionOf(id, grants);
      return { id, session, delegation: delegationChain(session.rootTokenId, grants) };
    });
    // Every session on every delegation chain: its tokens' revocations reach the tokens below.
    const roots = [...new Set(shaped.flatMap((s) => s.delegation))];
    const members = await this.descendants(roots, ['refreshed']);
    const memberIds = new Set<string>(ids);
    for (const [root, list] of members) {
      memberIds.add(root);
      for (const t of list) memberIds.add(t);
    }
    // A session's own chain up to the furthest known point belongs to it even before the root arrives.
    for (const s of shaped) for (const g of s.session.chain) memberIds.add(g.tokenId);
    const life = await this.#lifeEvents([...memberIds]);
    for (const { id, session, delegation } of shaped) {
      const revocations: LineageRevocation[] = [];
      const add = (tokenId: string, via: RevokedVia) => {
        const r = (life.get(tokenId) ?? []).find((e) => e.event === 'revoked');
        if (r && !revocations.some((x) => x.tokenId === tokenId)) {
          revocations.push({ tokenId, at: r.time, atMs: parseStoreTime(r.time), reason: r.revoked_reason, via });
        }
      };
      add(id, 'self');
      const own = new Set([session.rootTokenId, ...(members.get(session.rootTokenId) ?? []), ...session.chain.map((g) => g.tokenId)]);
      for (const t of own) add(t, 'session');
      for (const root of delegation.slice(0, -1)) for (const t of [root, ...(members.get(root) ?? [])]) add(t, 'delegator');
      revocations.sort((a, b) => a.atMs - b.atMs || a.tokenId.localeCompare(b.tokenId));
      const renewals = (life.get(id) ?? [])
        .filter((e) => e.event === 'renewed' && e.expires_at)
        .map((e) => ({
          at: e.time,
          atMs: parseStoreTime(e.time),
          expiresAt: e.expires_at as string,
          expiresAtMs: parseStoreTime(e.expires_at as string),
        }));
      out.set(id, { tokenId: id, grant: grants.get(id) ?? null, session, delegation, revocations, renewals });
    }
    return out;
  }

  /** `revoked` and `renewed` events of `ids`, earliest first, by token. */
  async #lifeEvents(ids: string[]): Promise<Map<string, LifeRow[]>> {
    const missing = ids.filter((id) => !this.#life.has(id));
    if (missing.length > 0) {
      const rows = await this.#store.query<LifeRow>(
        `SELECT token_id, event, time, expires_at, revoked_reason FROM token_events
         WHERE event IN ('revoked', 'renewed') AND token_id IN {ids:Array(String)}
         ORDER BY token_id, time, event
         LIMIT 100 BY token_id, event`,
        { ids: missing },
      );
      for (const id of missing) this.#life.set(id, []);
      for (const r of rows) this.#life.get(r.token_id)?.push(r);
    }
    return new Map(ids.map((id) => [id, this.#life.get(id) ?? []]));
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
    if (seen.has(g.parentId) || chain.length > MAX_LINEAGE_DEPTH) {
      complete = false;
      break;
    }
    seen.add(id);
    id = g.parentId;
  }
  const root = chain[chain.length - 1];
  const rooted = root !== undefined && root.event !== 'refreshed';
  const rootTokenId = rooted ? root.tokenId : id;
  const limits = chain.map((g) => g.maxSessionS).filter((s): s is number => s !== null);
  return {
    rootTokenId,
    rootTime: rooted ? root.time : undefined,
    complete: complete && rooted,
    chain,
    maxSessionS: (rooted ? root.maxSessionS : null) ?? (limits.length ? Math.min(...limits) : undefined),
    taskId: chain.find((g) => g.taskId)?.taskId ?? '',
    grantee: rooted ? root.agentId : '',
    granteeWorkload: rooted ? root.workloadId : '',
  };
}

/** `[origin, …, sessionRoot]`: the session roots up the `exchanged` links from `sessionRoot`. */
export function delegationChain(sessionRoot: string, grants: ReadonlyMap<string, Grant | null>): string[] {
  const chain = [sessionRoot];
  let current = sessionRoot;
  for (let i = 0; i < MAX_LINEAGE_DEPTH; i++) {
    const g = grants.get(current);
    if (g?.event !== 'exchanged' || !g.parentId) break;
    const parent = sessionOf(g.parentId, grants);
    const next = parent.chain.length ? parent.rootTokenId : g.parentId;
    if (chain.includes(next)) break;
    chain.unshift(next);
    current = next;
  }
  return chain;
}

/**
 * A refresh keeps the grantee (docs/conventions.md §1.2): true when `grant`, a `refreshed` token, names
 * a grantee other than its session's. Workloads decide when both name one; unnamed sides never differ.
 */
export function refreshChangesGrantee(grant: Grant, session: Session): boolean {
  if (grant.event !== 'refreshed') return false;
  if (grant.workloadId && session.granteeWorkload) return grant.workloadId !== session.granteeWorkload;
  return Boolean(grant.agentId && session.grantee && grant.agentId !== session.grantee);
}

/**
 * The effective state of a token at `atMs` (see {@link TokenStatus}): a revocation in force wins,
 * then expiry (beyond `skewMs`, renewals up to the instant counted), then the end of its task.
 */
export function stateAt(
  lineage: TokenLineage,
  atMs: number,
  options: { skewMs?: number; taskEndedAt?: string | null } = {},
): EffectiveState {
  const revoked = lineage.revocations.find((r) => r.atMs < atMs) ?? null;
  const renewals = lineage.renewals.filter((r) => r.atMs <= atMs);
  const renewedUntil = renewals.length ? renewals.reduce((a, b) => (b.expiresAtMs > a.expiresAtMs ? b : a)) : null;
  const grantExpiry = lineage.grant?.expiresAt ?? null;
  let expiresAt = grantExpiry;
  if (renewedUntil && (grantExpiry === null || renewedUntil.expiresAtMs > parseStoreTime(grantExpiry))) expiresAt = renewedUntil.expiresAt;
  const taskEndedAt = options.taskEndedAt && parseStoreTime(options.taskEndedAt) < atMs ? options.taskEndedAt : null;
  let status: TokenStatus = 'valid';
  if (revoked)
    status = revoked.via === 'self' ? 'revoked' : revoked.via === 'session' ? 'revoked_through_session' : 'revoked_through_delegator';
  else if (expiresAt !== null && atMs > parseStoreTime(expiresAt) + (options.skewMs ?? 0)) status = 'expired';
  else if (taskEndedAt) status = 'task_ended';
  return { status, revoked, expiresAt, renewedUntil: renewedUntil?.expiresAt ?? null, taskEndedAt };
}

/**
 * Query parameters for {@link lineageRevocationsSql}: each token's earliest revocation in force,
 * whoever's event it was. Tokens no revocation reaches are left out.
 */
export function revocationParams(lineages: Iterable<TokenLineage>): Record<string, string[]> {
  const p: Record<string, string[]> = {
    lineageTokens: [],
    lineageRevokedAt: [],
    lineageRevokedBy: [],
    lineageRevokedVia: [],
    lineageRevokedReason: [],
  };
  for (const l of lineages) {
    const r = l.revocations[0];
    if (!r) continue;
    p.lineageTokens?.push(l.tokenId);
    p.lineageRevokedAt?.push(r.at);
    p.lineageRevokedBy?.push(r.tokenId);
    p.lineageRevokedVia?.push(r.via);
    p.lineageRevokedReason?.push(r.reason);
  }
  return p;
}
