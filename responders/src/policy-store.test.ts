import type { Store } from '@intentwatch/core';
import { type TestStore, openTestStore } from '@intentwatch/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyStore } from './policy-store.js';

/**
 * `store`, with the answers of queries that read `table` held back between `hold()` and
 * `release()`: a read made before a change whose answer arrives after it.
 */
function slowReadsOf(store: Store, table: string): { store: Store; hold(): void; release(): void } {
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

describe('PolicyStore', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore();
  });
  afterAll(async () => t?.dispose());

  it('keeps a policy put while a refresh that read before it was under way', async () => {
    const slow = slowReadsOf(t.store, 'responder_policies');
    const policies = await PolicyStore.open(slow.store);
    slow.hold();
    const refreshing = policies.refresh();
    await policies.put(
      { id: 'late-put', endpoint: { url: 'https://broker.example.com/revoke', secrets: ['env:BROKER_SECRET'] } },
      'key:admin',
    );
    slow.release();
    await refreshing;
    expect(policies.get('late-put')?.endpoint.url).toBe('https://broker.example.com/revoke');
  });

  it('keeps a state set while a refresh that read before it was under way', async () => {
    const slow = slowReadsOf(t.store, 'responder_policy_state');
    const policies = await PolicyStore.open(slow.store);
    await policies.setState('late-put', 'paused', 'rate limit', 'policy');
    slow.hold();
    const refreshing = policies.refresh();
    await policies.setState('late-put', 'active', 'resumed', 'key:admin');
    slow.release();
    await refreshing;
    expect(policies.state('late-put').state).toBe('active');
  });
});
