import { Gauge } from 'prom-client';
import { registry } from '../metrics.js';
import type { Store } from './store.js';

/** How long one reading of the engine's memory serves scrapes: a scrape every second costs one query in five. */
const READING_TTL_MS = 5_000;

let watched: Store | undefined;
let last: { at: number; values: Record<string, number> } | undefined;
let reading: Promise<void> | undefined;

const NAME = 'intentwatch_store_memory_bytes';

/**
 * Serves the embedded engine's memory at `/metrics` as `intentwatch_store_memory_bytes{holder}`
 * (`tracked` is everything the engine accounts for; the caches and `merges` are parts of it),
 * read from the engine when scraped, at most once per {@link READING_TTL_MS}. The monitor's RSS is
 * this plus the JavaScript heap and what neither accounts for: a cache that stops at its bound
 * (see `engineArgs`) while RSS keeps rising points elsewhere. With a ClickHouse server nothing is
 * served (its memory is its own). The last store registered is the one read.
 */
export function registerEngineMetrics(store: Store): void {
  if (store.kind !== 'embedded') return;
  watched = store;
  last = undefined;
  if (registry.getSingleMetric(NAME)) return;
  new Gauge({
    name: NAME,
    help: "The embedded store's memory, by what holds it",
    labelNames: ['holder'],
    registers: [registry],
    async collect() {
      const store = watched;
      if (!store) return;
      if (!last || Date.now() - last.at > READING_TTL_MS) {
        reading ??= store
          .engineMemory()
          .then((values) => {
            last = { at: Date.now(), values };
          })
          // A store that does not answer (closing, busy past its limit) keeps the last reading.
          .catch(() => undefined)
          .finally(() => {
            reading = undefined;
          });
        await reading;
      }
      for (const [holder, bytes] of Object.entries(last?.values ?? {})) this.set({ holder }, bytes);
    },
  });
}
