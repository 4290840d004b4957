import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestStore, openTestStore } from '@intentwatch/testkit';
import { type Grant, Lineage, type TokenLineage, delegationChain, refreshChangesGrantee, sessionOf, stateAt } from './lineage.js';

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
  it('follows refreshes to the issued root and takes its limit, grantee and the nearest task', () => {
    const grants = new Map<string, Grant | null>([
      ['r0', grant('r0', 'issued', '', { maxSessionS: 600, taskId: 'T-1', agentId: 'triage-bot' })],
      ['r1', grant('r1', 'refreshed', 'r0')],
      ['r2', grant('r2', 'refreshed', 'r1', { maxSessionS: 9999 })],
    ]);
    const s = sessionOf('r2', grants);
    expect(s).toMatchObject({ rootTokenId: 'r0', complete: true, maxSessionS: 600, taskId: 'T-1', grantee: 'triage-bot' });
    expect(s.chain.map((g) => g.tokenId)).toEqual(['r2', 'r1', 'r0']);
  });

  it('starts a new session at an exchange (a new hop of the delegation chain)', () => {
    const grants = new Map<string, Grant | null>([
      ['p', grant('p', 'issued')],
      ['x', grant('x', 'exchanged', 'p')],
      ['xr', grant('xr', 'refreshed', 'x')],
    ]);
    expect(sessionOf('xr', grants).rootTokenId).toBe('x');
    expect(delegationChain('x', grants)).toEqual(['p', 'x']);
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

describe('refreshChangesGrantee', () => {
  const root = grant('r0', 'issued', '', { agentId: 'triage-bot', workloadId: 'spiffe://a/triage' });
  const session = sessionOf('r0', new Map([['r0', root]]));
  it('flags a refresh for another agent, and decides by workload when both name one', () => {
    expect(refreshChangesGrantee(grant('r1', 'refreshed', 'r0', { agentId: 'intruder' }), session)).toBe(true);
    expect(refreshChangesGrantee(grant('r1', 'refreshed', 'r0', { agentId: 'triage-bot', workloadId: 'spiffe://a/other' }), session)).toBe(
      true,
    );
    expect(refreshChangesGrantee(grant('r1', 'refreshed', 'r0', { agentId: 'renamed', workloadId: 'spiffe://a/triage' }), session)).toBe(
      false,
    );
  });
  it('lets an exchange name another agent, and a refresh that names no grantee pass', () => {
    expect(refreshChangesGrantee(grant('x', 'exchanged', 'r0', { agentId: 'coder' }), session)).toBe(false);
    expect(refreshChangesGrantee(grant('r1', 'refreshed', 'r0', { agentId: '' }), session)).toBe(false);
  });
});

describe('stateAt', () => {
  const at = (iso: string) => Date.parse(iso);
  const base: TokenLineage = {
    tokenId: 't',
    grant: grant('t', 'issued', '', { expiresAt: '2026-11-25T10:05:00Z' }),
    session: sessionOf('t', new Map([['t', grant('t', 'issued')]])),
    delegation: ['t'],
    revocations: [],
    renewals: [],
  };
  it('is valid before expiry and expired after it, beyond the skew', () => {
    expect(stateAt(base, at('2026-11-25T10:04:00Z')).status).toBe('valid');
    expect(stateAt(base, at('2026-11-25T10:05:20Z'), { skewMs: 30_000 }).status).toBe('valid');
    expect(stateAt(base, at('2026-11-25T10:06:00Z'), { skewMs: 30_000 }).status).toBe('expired');
  });
  it('counts a renewal from the instant it happened', () => {
    const renewed: TokenLineage = {
      ...base,
      renewals: [
        {
          at: '2026-11-25T10:04:00Z',
          atMs: at('2026-11-25T10:04:00Z'),
          expiresAt: '2026-11-25T10:15:00Z',
          expiresAtMs: at('2026-11-25T10:15:00Z'),
        },
      ],
    };
    expect(stateAt(renewed, at('2026-11-25T10:10:00Z'))).toMatchObject({ status: 'valid', renewedUntil: '2026-11-25T10:15:00Z' });
    expect(stateAt(renewed, at('2026-11-25T10:03:00Z'))).toMatchObject({ expiresAt: '2026-11-25T10:05:00Z', renewedUntil: null });
    expect(stateAt(renewed, at('2026-11-25T10:16:00Z')).status).toBe('expired');
  });
  it('names the earliest revocation in force and how it reaches the token, ahead of expiry and task end', () => {
    const revoked: TokenLineage = {
      ...base,
      revocations: [
        { tokenId: 'p', at: '2026-11-25T10:01:00Z', atMs: at('2026-11-25T10:01:00Z'), reason: 'task cancelled', via: 'delegator' },
        { tokenId: 't', at: '2026-11-25T10:02:00Z', atMs: at('2026-11-25T10:02:00Z'), reason: '', via: 'self' },
      ],
    };
    expect(stateAt(revoked, at('2026-11-25T10:00:30Z'), { taskEndedAt: '2026-11-25T10:00:10Z' }).status).toBe('task_ended');
    expect(stateAt(revoked, at('2026-11-25T10:01:30Z'))).toMatchObject({
      status: 'revoked_through_delegator',
      revoked: { tokenId: 'p', reason: 'task cancelled' },
    });
    expect(stateAt(revoked, at('2026-11-25T10:10:00Z')).status).toBe('revoked_through_delegator');
  });
});

describe('Lineage on the store', () => {
  let ts: TestStore;
  const t0 = Date.parse('2026-11-25T10:00:00Z');
  const iso = (s: number) => new Date(t0 + s * 1000).toISOString();
  const event = (s: number, ev: string, token: string, o: { parent?: string; agent?: string; expires?: number; reason?: string } = {}) => ({
    time: iso(s),
    ingested_at: iso(s),
    event: ev,
    token_id: token,
    parent_id: o.parent ?? '',
    agent_id: o.agent ?? '',
    expires_at: o.expires === undefined ? null : iso(o.expires),
    revoked_reason: o.reason ?? '',
    source: 'test',
  });

  beforeAll(async () => {
    ts = await openTestStore({}, { serverFromEnv: true });
    await ts.store.insertPartial('token_events', [
      // A planner's session (issued, refreshed) delegates to a coder, who refreshes and delegates on.
      event(0, 'issued', 'p0', { agent: 'planner' }),
      event(10, 'refreshed', 'p1', { parent: 'p0', agent: 'planner' }),
      event(20, 'exchanged', 'x0', { parent: 'p1', agent: 'coder' }),
      event(30, 'refreshed', 'x1', { parent: 'x0', agent: 'coder' }),
      event(40, 'exchanged', 'y0', { parent: 'x1', agent: 'tester' }),
      event(100, 'revoked', 'p1', { reason: 'task cancelled' }),
      // Another session of the same planner.
      event(5, 'issued', 'q0', { agent: 'planner', expires: 300 }),
      event(200, 'renewed', 'q0', { expires: 900 }),
    ]);
  });
  afterAll(async () => ts?.dispose());

  it('reaches every token of the session and everything delegated from it with one revocation, and no other session', async () => {
    const lineage = new Lineage(ts.store);
    const all = await lineage.lineages(['p0', 'p1', 'x0', 'x1', 'y0', 'q0']);
    const first = (id: string) => {
      const r = all.get(id)?.revocations[0];
      return r ? [r.tokenId, r.via] : null;
    };
    expect(first('p0')).toEqual(['p1', 'session']);
    expect(first('p1')).toEqual(['p1', 'self']);
    expect(first('x0')).toEqual(['p1', 'delegator']);
    expect(first('x1')).toEqual(['p1', 'delegator']);
    expect(first('y0')).toEqual(['p1', 'delegator']);
    expect(first('q0')).toBeNull();
    expect(all.get('y0')?.delegation).toEqual(['p0', 'x0', 'y0']);
    expect(all.get('q0')?.renewals.map((r) => r.expiresAtMs)).toEqual([t0 + 900_000]);
  });

  it('names descendants, direct children and the tokens a late event may judge differently', async () => {
    const lineage = new Lineage(ts.store);
    const down = await lineage.descendants(['p0', 'x0']);
    expect(down.get('p0')?.sort()).toEqual(['p1', 'x0', 'x1', 'y0']);
    expect(down.get('x0')?.sort()).toEqual(['x1', 'y0']);
    expect((await lineage.descendants(['p0'], ['refreshed'])).get('p0')).toEqual(['p1']);
    expect((await lineage.children(['p1'])).get('p1')).toEqual([{ tokenId: 'x0', event: 'exchanged' }]);
    // A revocation of the refresh p1 concerns the whole session from p0 down, and nothing of q0.
    expect([...(await lineage.affected(['p1']))].sort()).toEqual(['p0', 'p1', 'x0', 'x1', 'y0']);
  });
});
