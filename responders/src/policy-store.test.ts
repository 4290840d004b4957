import type { Store } from '@intentwatch/core';
import { type TestStore, openTestStore } from '@intentwatch/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyStore } from './policy-store.js';

describe('PolicyStore', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore();
  });
  afterAll(async () => t?.dispose());

  it('keeps a policy put while a refresh that read before it was under way', async () => {
    // A refresh whose read of the policies ran before the put, and whose answer arrives after it.
    let release: () => void = () => undefined;
    let held: Promise<void> | undefined;
    const slowReads = new Proxy(t.store, {
      get(target, prop) {
        if (prop !== 'query') {
          const value = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        }
        return async (...args: Parameters<Store['query']>) => {
          const rows = await target.query(...args);
          if (held && String(args[0]).includes('FROM responder_policies')) await held;
          return rows;
        };
      },
    }) as Store;
    const policies = await PolicyStore.open(slowReads);
    held = new Promise<void>((r) => {
      release = r;
    });
    const refreshing = policies.refresh();
    await policies.put(
      { id: 'late-put', endpoint: { url: 'https://broker.example.com/revoke', secrets: ['env:BROKER_SECRET'] } },
      'key:admin',
    );
    held = undefined;
    release();
    await refreshing;
    expect(policies.get('late-put')?.endpoint.url).toBe('https://broker.example.com/revoke');
  });

  it('keeps a state set while a refresh that read before it was under way', async () => {
    let release: () => void = () => undefined;
    let held: Promise<void> | undefined;
    const slowReads = new Proxy(t.store, {
      get(target, prop) {
        if (prop !== 'query') {
          const value = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        }
        return async (...args: Parameters<Store['query']>) => {
          const rows = await target.query(...args);
          if (held && String(args[0]).includes('FROM responder_policy_state')) await held;
          return rows;
        };
      },
    }) as Store;
    const policies = await PolicyStore.open(slowReads);
    await policies.setState('late-put', 'paused', 'rate limit', 'policy');
    held = new Promise<void>((r) => {
      release = r;
    });
    const refreshing = policies.refresh();
    await policies.setState('late-put', 'active', 'resumed', 'key:admin');
    held = undefined;
    release();
    await refreshing;
    expect(policies.state('late-put').state).toBe('active');
  });
});
