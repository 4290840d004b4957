import { Lineage, MAX_LINEAGE_TOKENS, type Store, delegationChain } from '@intentwatch/core';
import type { RevokeMode } from './policy.js';

/**
 * How a token a revoke request names stands to the finding's token:
 * `self` (the finding's token), `session` (another token of its session: the root or a refresh),
 * `delegated` (exchanged from its session, transitively, or a refresh of such a token),
 * `delegator` (a token of a session it was delegated from, up the `exchanged` links), `chain`
 * (elsewhere in the same delegation tree: delegated from a delegator along another branch).
 */
export const REVOKE_RELATIONS = ['self', 'session', 'delegated', 'delegator', 'chain'] as const;
export type RevokeRelation = (typeof REVOKE_RELATIONS)[number];

/** One token of a target: one revoke request, with its own webhook-id. */
export interface RevokeMember {
  tokenId: string;
  relation: RevokeRelation;
}

/** What a finding asks the broker to cut off, resolved from `token_events`: one request per token. */
export interface RevokeTarget {
  mode: RevokeMode;
  /** The token the alert names. */
  tokenId: string;
  /** Root of that token's session (its first `issued`, or first `exchanged`, ancestor through refreshes). */
  sessionRoot: string;
  /**
   * The delegation chain, from this session's root up through the `exchanged` links to the
   * origin: `[sessionRoot, …, origin]` (one entry when the session was issued, not exchanged).
   */
  chain: string[];
  /**
   * The tokens to revoke — the lineage the alert implicates: the token (`token`); the session's
   * tokens and everything delegated from them (`session`: a revocation ends the whole grant, RFC
   * 7009, and every token exchanged from it, RFC 8693); or everything derived from the origin of
   * the delegation chain (`chain`). The finding's token first, then its session, then the rest.
   */
  tokens: string[];
  /** `tokens`, each with how it stands to the finding's token. */
  members: RevokeMember[];
  /**
   * The lineage as one key: `token:<id>`, `session:<root>` or `chain:<origin>`. Requests are made
   * per token (`token:<id>` each); this key finds requests an earlier version made for the whole lineage at once.
   */
  dedupKey: string;
}

const RANK: Record<RevokeRelation, number> = { self: 0, session: 1, delegated: 2, delegator: 3, chain: 4 };

/**
 * Resolves revoke targets for many alerts at once, through lineage (`Lineage` in core): sessions
 * and delegation chains up, descendants down, one query per level for every root together.
 */
export class RevokeTargets {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async resolve(requests: readonly { tokenId: string; rootTokenId: string; mode: RevokeMode }[]): Promise<RevokeTarget[]> {
    if (requests.length === 0) return [];
    const lineage = new Lineage(this.#store);
    const grants = await lineage.grants(requests.map((r) => r.tokenId).filter(Boolean));
    const sessions = await lineage.sessions(requests.map((r) => r.tokenId).filter(Boolean));
    const shaped = requests.map((r) => {
      const session = r.tokenId ? sessions.get(r.tokenId) : undefined;
      // Without the token's grants (an ungoverned token) the alert's own session root stands.
      const sessionRoot = session?.chain.length ? session.rootTokenId : r.rootTokenId || r.tokenId;
      // Lineage lists the chain from the origin; a revoke request names it from the session up.
      const chain = delegationChain(sessionRoot, grants).reverse();
      return { ...r, sessionRoot, chain };
    });
    const wide = shaped.filter((r) => r.mode !== 'token');
    const origins = wide.filter((r) => r.mode === 'chain').map((r) => r.chain[r.chain.length - 1] as string);
    // Everything below each session root and origin; then, from the links already read, each
    // session on the way (refreshes only), so that every token can be named by its relation.
    const trees = await lineage.descendants([...wide.map((r) => r.sessionRoot), ...origins]);
    const sessionsBelow = await lineage.descendants(
      wide.flatMap((r) => (r.mode === 'chain' ? r.chain : [r.sessionRoot])),
      ['refreshed'],
    );
    const sessionOfRoot = (root: string) => new Set([root, ...(sessionsBelow.get(root) ?? [])]);
    return shaped.map((r): RevokeTarget => {
      const origin = r.chain[r.chain.length - 1] as string;
      const pick = { mode: r.mode, tokenId: r.tokenId, sessionRoot: r.sessionRoot, chain: r.chain };
      if (r.mode === 'token') {
        const members = r.tokenId ? [{ tokenId: r.tokenId, relation: 'self' as const }] : [];
        return { ...pick, tokens: members.map((m) => m.tokenId), members, dedupKey: `token:${r.tokenId}` };
      }
      const own = sessionOfRoot(r.sessionRoot);
      const below = new Set(trees.get(r.sessionRoot) ?? []);
      const above = new Set(r.mode === 'chain' ? r.chain.slice(1).flatMap((c) => [...sessionOfRoot(c)]) : []);
      const relation = (t: string): RevokeRelation =>
        t === r.tokenId ? 'self' : own.has(t) ? 'session' : below.has(t) ? 'delegated' : above.has(t) ? 'delegator' : 'chain';
      const ids =
        r.mode === 'session'
          ? [r.tokenId, r.sessionRoot, ...(trees.get(r.sessionRoot) ?? [])]
          : [r.tokenId, ...r.chain, origin, ...(trees.get(origin) ?? [])];
      const members = cap(ids)
        .map((tokenId) => ({ tokenId, relation: relation(tokenId) }))
        .sort((a, b) => RANK[a.relation] - RANK[b.relation]);
      return {
        ...pick,
        tokens: members.map((m) => m.tokenId),
        members,
        dedupKey: r.mode === 'session' ? `session:${r.sessionRoot}` : `chain:${origin}`,
      };
    });
  }
}

/** Unique ids, in order, at most MAX_LINEAGE_TOKENS: a runaway refresh loop must not make megabytes of requests. */
function cap(ids: string[]): string[] {
  return [...new Set(ids.filter(Boolean))].slice(0, MAX_LINEAGE_TOKENS);
}
