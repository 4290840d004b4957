import { type TestStore, openTestStore } from '@intentwatch/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slowReadsOf } from '../testing/slow-reads.js';
import { PolicyStore } from './policy-store.js';

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
