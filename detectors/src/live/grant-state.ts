import { Lineage, type Store, type TokenLineage } from '@intentwatch/core';
import { LRUCache } from 'lru-cache';
import { IntentResolver, type Task } from '../intent/intent-resolver.js';

export interface GrantStateOptions {
  /** Tokens (and as many tasks) kept; the least recently used go first. */
  maxEntries: number;
  /** How long an entry is trusted before it is read again (events another process ingested). */
  ttlMs: number;
  /** Most tokens read from the store for one batch: the rest of a flood of new tokens waits for the scheduled runs. */
  maxLoadsPerBatch?: number;
}

/**
 * What live detection knows about tokens and tasks, read from the store through the same
 * lineage and task lookups the detectors use, and kept in memory — bounded in entries and in
 * age. The lifecycle events the collector commits in this process drop what they change
 * (`forget*`), so that the next use reads it again; events committed elsewhere are seen once
 * an entry's age runs out, and the scheduled runs find what was missed meanwhile.
 */
export class GrantState {
  readonly #store: Store;
  readonly #tokens: LRUCache<string, TokenLineage>;
  readonly #tasks: LRUCache<string, Task>;
  readonly #maxLoads: number;

  constructor(store: Store, options: GrantStateOptions) {
    this.#store = store;
    this.#tokens = new LRUCache({ max: options.maxEntries, ttl: options.ttlMs });
    this.#tasks = new LRUCache({ max: options.maxEntries, ttl: options.ttlMs });
    this.#maxLoads = options.maxLoadsPerBatch ?? 5000;
  }

  /** Number of tokens held (for tests and metrics). */
  get size(): number {
    return this.#tokens.size;
  }

  /** The lineage of each token asked for that is known or could be read (at most `maxLoadsPerBatch` reads). */
  async lineages(tokenIds: Iterable<string>): Promise<Map<string, TokenLineage>> {
    const out = new Map<string, TokenLineage>();
    const missing: string[] = [];
    for (const id of new Set(tokenIds)) {
      const known = this.#tokens.get(id);
      if (known) out.set(id, known);
      else if (missing.length < this.#maxLoads) missing.push(id);
    }
    if (missing.length > 0) {
      for (const [id, lineage] of await new Lineage(this.#store).lineages(missing)) {
        this.#tokens.set(id, lineage);
        out.set(id, lineage);
      }
    }
    return out;
  }

  /** The tasks asked for (at most `maxLoadsPerBatch` reads); a task no event names reads as not started and not ended, as the detectors' LEFT JOIN gives it. */
  async tasks(taskIds: Iterable<string>): Promise<Map<string, Task>> {
    const out = new Map<string, Task>();
    const missing: string[] = [];
    for (const id of new Set(taskIds)) {
      if (!id) continue;
      const known = this.#tasks.get(id);
      if (known) out.set(id, known);
      else if (missing.length < this.#maxLoads) missing.push(id);
    }
    if (missing.length > 0) {
      const loaded = await new IntentResolver(this.#store).tasks(missing);
      for (const id of missing) {
        const task = loaded.get(id) ?? {
          taskId: id,
          started: false,
          intent: '',
          tools: [],
          deadline: null,
          ended: false,
          endedAt: null,
          endEvent: '',
        };
        this.#tasks.set(id, task);
        out.set(id, task);
      }
    }
    return out;
  }

  /**
   * Drops what lifecycle events about `tokenIds` change: a grant, renewal or refresh changes the
   * token itself (its grant, its renewals); a revocation (`revoked`) reaches its whole session
   * and everything delegated from it, as lineage says. A new refresh or exchange adds a member to
   * its parent's lineage that no revocation has reached yet, so the parent's state stands; a
   * grant that arrives late for an ancestor completes its descendants' sessions once their entry
   * ages out (until then the screen only misses, which the scheduled runs catch).
   */
  async forgetTokens(tokenIds: readonly string[], revoked: readonly string[]): Promise<void> {
    for (const id of tokenIds) this.#tokens.delete(id);
    if (revoked.length === 0) return;
    for (const id of await new Lineage(this.#store).affected(revoked)) this.#tokens.delete(id);
  }

  forgetTasks(taskIds: readonly string[]): void {
    for (const id of taskIds) this.#tasks.delete(id);
  }
}
