import { type Store, nextVersion } from '@intentwatch/core';

/**
 * Each detector's watermark over `spans.ingested_at`, kept in the store (`detector_state`) so
 * that a restarted or different worker resumes where the last run ended.
 */
export class Watermarks {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** The watermark of `detector` in epoch ms, or undefined before its first run. */
  async get(detector: string): Promise<number | undefined> {
    const rows = await this.#store.query<{ watermark: string }>(
      'SELECT argMax(watermark, version) AS watermark FROM detector_state WHERE detector = {detector:String} GROUP BY detector',
      { detector },
    );
    return rows[0] ? Date.parse(rows[0].watermark) : undefined;
  }

  async set(detector: string, watermarkMs: number): Promise<void> {
    await this.#store.insert('detector_state', [
      {
        detector,
        watermark: new Date(watermarkMs).toISOString(),
        updated_at: new Date().toISOString(),
        version: nextVersion(),
      },
    ]);
  }
}
