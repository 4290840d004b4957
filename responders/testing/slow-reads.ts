import type { Store } from '@intentwatch/core';

/**
 * `store`, with the answers of queries that read `table` held back between `hold()` and
 * `release()`: a read made before a change whose answer arrives after it.
 */
export function slowReadsOf(store: Store, table: string): { store: Store; hold(): void; release(): void } {
  let held: { done: Promise<void>; release: () => void } | undefined;
  const slow = new Proxy(store, {
    get(target, prop) {
      if (prop !== 'query') {
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (...args: Parameters<Store['query']>) => {
        const rows = await target.query(...args);
        if (held && String(args[0]).includes(`FROM ${table} `)) await held.done;
        return rows;
      };
    },
  }) as Store;
  return {
    store: slow,
    hold() {
      let release: () => void = () => undefined;
      const done = new Promise<void>((r) => {
        release = r;
      });
      held = { done, release };
    },
    release() {
      const h = held;
      held = undefined;
      h?.release();
    },
  };
}
