import { type Store, StoreError } from '@intentwatch/core';

const CALLS = new Set(['query', 'insert', 'insertFormatted', 'insertNative', 'command', 'ping']);

/**
 * A fault injector around a real store: while `failing` is set, every query, insert and command
 * fails as it would with the ClickHouse server unreachable; otherwise calls go through unchanged.
 * Give `store` to the code under test and keep the real store for the test's own reads.
 */
export class StoreFaults {
  failing = false;
  readonly store: Store;

  constructor(real: Store) {
    this.store = new Proxy(real, {
      get: (target, prop) => {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (this.failing && CALLS.has(String(prop))) {
            return Promise.reject(new StoreError('injected fault: the store is unreachable', { code: 'store_unavailable' }));
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }
}
