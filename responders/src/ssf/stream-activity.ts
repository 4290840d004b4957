import { type Store, nextVersion } from '@intentwatch/core';

/** `responder_state` rows of receiver activity, one per stream (`watermark`: epoch ms). */
const ACTIVITY_PREFIX = 'ssf-activity:';

/**
 * When each stream's receiver was last active (SSF 1.0 §8.1.1 `inactivity_timeout`: polling a
 * poll stream, or calling a management endpoint about the stream). Kept in `responder_state`,
 * apart from the stream, so that recording activity never overwrites a status another process
 * set. Writes are spaced per stream and process (`spacingMs`): activity within it is the same.
 */
export class StreamActivity {
  readonly #store: Store;
  readonly #spacingMs: number;
  readonly #written = new Map<string, number>();

  constructor(store: Store, spacingMs: number) {
    this.#store = store;
    this.#spacingMs = spacingMs;
  }

  async touch(streamId: string, now = Date.now()): Promise<void> {
    if (now - (this.#written.get(streamId) ?? 0) < this.#spacingMs) return;
    await this.#store.insert('responder_state', [
      { name: ACTIVITY_PREFIX + streamId, watermark: now, updated_at: new Date(now).toISOString(), version: nextVersion() },
    ]);
    this.#written.set(streamId, now);
  }

  /** The last recorded activity of each stream, epoch ms. */
  async last(): Promise<Map<string, number>> {
    const rows = await this.#store.query<{ name: string; at: string }>(
      'SELECT name, max(watermark) AS at FROM responder_state WHERE startsWith(name, {prefix:String}) GROUP BY name',
      { prefix: ACTIVITY_PREFIX },
    );
    return new Map(rows.map((r) => [r.name.slice(ACTIVITY_PREFIX.length), Number(r.at)]));
  }
}
