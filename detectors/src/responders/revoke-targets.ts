import type { Store } from '@intentwatch/core';
import { type Grant, IntentResolver, sessionOf } from '../intent/intent-resolver.js';
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
  /** The tokens to revoke: the token; the session's tokens; or everything derived from the origin. */
  tokens: string[];
  /** One revoke per dedup key per policy: `token:<id>`, `session:<root>` or `chain:<origin>`. */
  dedupKey: string;
}

/** Longest refresh/exchange walk down from a root; a deeper tree is cut. */
const MAX_DEPTH = 32;
/** Most tokens named in one request: a runaway refresh loop must not make a body of megabytes. */
const MAX_TOKENS = 5000;

/**
 * Resolves revoke targets from the lifecycle tables, for many alerts at once: grants up the
 * chains through the detectors' IntentResolver, then one query per level down the refresh and
 * exchange links for every root together.
 */
export class RevokeTargets {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async resolve(requests: readonly { tokenId: string; rootTokenId: string; mode: RevokeMode }[]): Promise<RevokeTarget[]> {
    if (requests.length === 0) return [];
    const grants = await new IntentResolver(this.#store).grants(requests.map((r) => r.tokenId).filter(Boolean));
    const shaped = requests.map((r) => {
      const session = r.tokenId ? sessionOf(r.tokenId, grants) : undefined;
      // Without the token's grants (an ungoverned token) the alert's own session root stands.
      const sessionRoot = session?.chain.length ? session.rootTokenId : r.rootTokenId || r.tokenId;
      const chain = delegationChain(sessionRoot, grants);
      return { ...r, sessionRoot, chain };
    });
    const sessionRoots = shaped.filter((r) => r.mode === 'session').map((r) => r.sessionRoot);
    const origins = shaped.filter((r) => r.mode === 'chain').map((r) => r.chain[r.chain.length - 1] as string);
    const [sessionTrees, chainTrees] = await Promise.all([
      this.#descendants(sessionRoots, ['refreshed']),
      this.#descendants(origins, ['refreshed', 'exchanged']),
    ]);
    return shaped.map((r): RevokeTarget => {
      const origin = r.chain[r.chain.length - 1] as string;
      switch (r.mode) {
        case 'token':
          return { ...pick(r), tokens: [r.tokenId], dedupKey: `token:${r.tokenId}` };
        case 'session':
          return {
            ...pick(r),
            tokens: cap(unique([r.sessionRoot, ...(sessionTrees.get(r.sessionRoot) ?? []), r.tokenId])),
            dedupKey: `session:${r.sessionRoot}`,
          };
        default:
          return {
            ...pick(r),
            tokens: cap(unique([origin, ...(chainTrees.get(origin) ?? []), ...r.chain, r.tokenId])),
            dedupKey: `chain:${origin}`,
          };
      }
    });
  }

  /** For each root, every token derived from it through `events` links (breadth first, roots excluded). */
  async #descendants(roots: string[], events: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const unique = [...new Set(roots.filter(Boolean))];
    if (unique.length === 0) return out;
    // owner: the root each token was reached from (a token reached from two roots keeps the first).
    const owner = new Map<string, string>(unique.map((r) => [r, r]));
    for (const r of unique) out.set(r, []);
    let frontier = unique;
    for (let depth = 0; frontier.length > 0 && depth < MAX_DEPTH; depth++) {
      const rows = await this.#store.query<{ token_id: string; parent_id: string }>(
        `SELECT DISTINCT token_id, parent_id FROM token_events
         WHERE parent_id IN {ids:Array(String)} AND event IN {events:Array(String)}`,
        { ids: frontier, events },
      );
      const next: string[] = [];
      for (const row of rows) {
        if (owner.has(row.token_id)) continue;
        const root = owner.get(row.parent_id);
        if (root === undefined) continue;
        owner.set(row.token_id, root);
        const list = out.get(root) as string[];
        if (list.length < MAX_TOKENS) list.push(row.token_id);
        next.push(row.token_id);
      }
      frontier = next;
    }
    return out;
  }
}

/** `[sessionRoot, parent session root, …, origin]` following `exchanged` links upwards. */
function delegationChain(sessionRoot: string, grants: ReadonlyMap<string, Grant | null>): string[] {
  const chain = [sessionRoot];
  let current = sessionRoot;
  for (let i = 0; i < MAX_DEPTH; i++) {
    const g = grants.get(current);
    if (g?.event !== 'exchanged' || !g.parentId) break;
    const parentRoot = sessionOf(g.parentId, grants);
    const next = parentRoot.chain.length ? parentRoot.rootTokenId : g.parentId;
    if (chain.includes(next)) break;
    chain.push(next);
    current = next;
  }
  return chain;
}

function pick(r: { mode: RevokeMode; tokenId: string; sessionRoot: string; chain: string[] }) {
  return { mode: r.mode, tokenId: r.tokenId, sessionRoot: r.sessionRoot, chain: r.chain };
}

function unique(ids: string[]): string[] {
  return [...new Set(ids.filter(Boolean))];
}

function cap(ids: string[]): string[] {
  return ids.slice(0, MAX_TOKENS);
}
