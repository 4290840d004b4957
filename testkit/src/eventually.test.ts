import { describe, expect, it } from 'vitest';
import { eventually } from './eventually.js';

describe('eventually', () => {
  it('reads until the condition holds and returns the value that satisfied it', async () => {
    let reads = 0;
    const value = await eventually(
      () => ++reads,
      (n) => n === 3,
      { intervalMs: 1 },
    );
    expect(value).toBe(3);
    expect(reads).toBe(3);
  });

  it('without a label, returns the last value read when the deadline passes, for the test to assert on', async () => {
    const value = await eventually(
      async () => 'pending',
      (v) => v === 'done',
      { timeoutMs: 20, intervalMs: 1 },
    );
    expect(value).toBe('pending');
  });

  it('with a label, fails naming what it waited for and the last value read', async () => {
    await expect(
      eventually(
        () => ({ status: 'queued' }),
        (v) => v.status === 'delivered',
        { timeoutMs: 20, intervalMs: 1, label: 'the delivery' },
      ),
    ).rejects.toThrow('the delivery: not within 20 ms (last value: {"status":"queued"})');
  });
});
