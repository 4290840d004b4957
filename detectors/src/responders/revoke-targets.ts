import { Lineage, MAX_LINEAGE_TOKENS, type Store, delegationChain } from '@intentwatch/core';
import type { RevokeMode } from './policy.js';
/** What one revoke request asks the broker to cut off, resolved from `token_events`. */
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
   * the delegation chain (`chain`).
   */
  tokens: string[];
  /** One revoke per dedup key per policy: `token:<id>`, `session:<root>` or `chain:<origin>`. */
  dedupKey: string;
}

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
    const roots = shaped.filter((r) => r.mode === 'session').map((r) => r.sessionRoot);
    const origins = shaped.filter((r) => r.mode === 'chain').map((r) => r.chain[r.chain.length - 1] as string);
    const trees = await lineage.descendants([...roots, ...origins]);
    return shaped.map((r): RevokeTarget => {
      const origin = r.chain[r.chain.length - 1] as string;
      const pick = { mode: r.mode, tokenId: r.tokenId, sessionRoot: r.sessionRoot, chain: r.chain };
      switch (r.mode) {
        case 'token':
          return { ...pick, tokens: [r.tokenId], dedupKey: `token:${r.tokenId}` };
        case 'session':
          return {
            ...pick,
            tokens: cap([r.sessionRoot, ...(trees.get(r.sessionRoot) ?? []), r.tokenId]),
            dedupKey: `session:${r.sessionRoot}`,
          };
        default:
          return {
            ...pick,
            tokens: cap([origin, ...(trees.get(origin) ?? []), ...r.chain, r.tokenId]),
            dedupKey: `chain:${origin}`,
          };
      }
    });
  }
}

/** Unique ids, in order, at most MAX_LINEAGE_TOKENS: a runaway refresh loop must not make a body of megabytes. */
function cap(ids: string[]): string[] {
  return [...new Set(ids.filter(Boolean))].slice(0, MAX_LINEAGE_TOKENS);
}
