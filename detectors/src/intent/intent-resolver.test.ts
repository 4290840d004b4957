import { describe, expect, it } from 'vitest';
import { type Grant, sessionOf } from './intent-resolver.js';

const grant = (tokenId: string, event: Grant['event'], parentId = '', extra: Partial<Grant> = {}): Grant => ({
  tokenId,
  event,
  time: '2026-11-25T10:00:00Z',
  parentId,
  taskId: '',
  agentId: 'a',
  workloadId: '',
  audience: [],
  scopes: [],
  resources: [],
  expiresAt: null,
  maxSessionS: null,
  environment: '',
  traceId: '',
  spanId: '',
  ...extra,
});

describe('sessionOf', () => {
  it('follows refreshes to the issued root and takes its limit and the nearest task', () => {
    const grants = new Map<string, Grant | null>([
      ['r0', grant('r0', 'issued', '', { maxSessionS: 600, taskId: 'T-1' })],
      ['r1', grant('r1', 'refreshed', 'r0')],
      ['r2', grant('r2', 'refreshed', 'r1', { maxSessionS: 9999 })],
    ]);
    const s = sessionOf('r2', grants);
    expect(s).toMatchObject({ rootTokenId: 'r0', complete: true, maxSessionS: 600, taskId: 'T-1' });
    expect(s.chain.map((g) => g.tokenId)).toEqual(['r2', 'r1', 'r0']);
  });

  it('starts a new session at an exchange (a new hop of the delegation chain)', () => {
    const grants = new Map<string, Grant | null>([
      ['p', grant('p', 'issued')],
      ['x', grant('x', 'exchanged', 'p')],
      ['xr', grant('xr', 'refreshed', 'x')],
    ]);
    expect(sessionOf('xr', grants).rootTokenId).toBe('x');
  });

  it('names the missing ancestor as the root while its grant has not arrived', () => {
    const grants = new Map<string, Grant | null>([
      ['c', grant('c', 'refreshed', 'late-root')],
      ['late-root', null],
    ]);
    expect(sessionOf('c', grants)).toMatchObject({ rootTokenId: 'late-root', complete: false, rootTime: undefined });
    expect(sessionOf('unknown', new Map())).toMatchObject({ rootTokenId: 'unknown', complete: false });
  });

  it('stops at a refresh cycle instead of looping', () => {
    const grants = new Map<string, Grant | null>([
      ['a', grant('a', 'refreshed', 'b')],
      ['b', grant('b', 'refreshed', 'a')],
    ]);
    expect(sessionOf('a', grants).complete).toBe(false);
  });
});
