import { randomBytes } from 'node:crypto';
import { type TestStore, openTestStore } from '@intentwatch/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slowReadsOf } from '../../testing/slow-reads.js';
import { SecretBox } from '../secret-box.js';
import { StreamStore } from './stream-store.js';

describe('StreamStore', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  const input = (aud: string) => ({
    aud,
    eventsRequested: [],
    delivery: { method: 'urn:ietf:rfc:8936' },
    description: '',
    subjects: [],
    status: 'enabled' as const,
    reason: '',
    maxPerMinute: 60,
    dryRun: false,
  });

  const record = (streamId: string, aud: string) => ({
    ...input(aud),
    streamId,
    createdAt: new Date().toISOString(),
    lastVerificationAt: 0,
  });

  it('keeps a stream saved while a refresh that read before it was under way', async () => {
    const slow = slowReadsOf(t.store, 'ssf_streams');
    const streams = new StreamStore(slow.store, new SecretBox(randomBytes(32)));
    slow.hold();
    const refreshing = streams.refresh();
    await streams.save(record('late-save', 'https://receiver.example.test/late'), 'key:admin');
    slow.release();
    await refreshing;
    expect((await streams.get('late-save')).aud).toBe('https://receiver.example.test/late');
  });

  it('keeps a stream paused while a refresh that read it enabled was under way', async () => {
    const slow = slowReadsOf(t.store, 'ssf_streams');
    const streams = new StreamStore(slow.store, new SecretBox(randomBytes(32)));
    const enabled = record('late-pause', 'https://receiver.example.test/pause');
    await streams.save(enabled, 'key:admin');
    slow.hold();
    const refreshing = streams.refresh();
    await streams.save({ ...enabled, status: 'paused', reason: 'rate limit' }, 'responder');
    slow.release();
    await refreshing;
    expect((await streams.get('late-pause')).status).toBe('paused');
  });
});
