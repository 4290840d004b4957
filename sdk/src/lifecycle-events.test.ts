import { Lineage, type TokenEventRow, stateAt } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskEvents, TokenEvents, createAgentTracerProvider, tokenFingerprint, withTask } from './index.js';
import { type TestMonitor, startTestMonitor } from '@intentwatch/testkit/collector';

let monitor: TestMonitor;

beforeAll(async () => {
  monitor = await startTestMonitor();
});

afterAll(async () => {
  await monitor?.close();
});

/** An event as `SELECT * EXCEPT (attributes)` reads it from `token_events`. */
type StoredTokenEvent = Omit<TokenEventRow, 'attributes'>;

describe('TokenEvents and TaskEvents', () => {
  it('store every lifecycle attribute of docs/conventions.md §1.2 and §1.3 through the collector', async () => {
    const broker = createAgentTracerProvider({ serviceName: 'token-broker', environment: 'prod', endpoint: monitor.endpoint });
    const orchestrator = createAgentTracerProvider({ serviceName: 'orchestrator', endpoint: monitor.endpoint });
    const tokens = new TokenEvents(broker.getTracer('broker'));
    const tasks = new TaskEvents(orchestrator.getTracer('orchestrator'));
    const t0 = Date.parse('2026-11-25T10:00:00Z');
    const secret = 'opaque-root-token-0123456789';

    tasks.started({
      id: 'T-7',
      agentId: 'triage-bot',
      intent: 'label new issues',
      tools: ['github.list_issues', 'github.add_label'],
      deadline: t0 + 3_600_000,
      time: t0,
    });
    // The broker's own code may run inside some task; its events must still name their grantee.
    const root = withTask({ id: 'T-other', agentId: 'broker-worker' }, () =>
      tokens.issued({
        token: secret,
        agentId: 'triage-bot',
        workloadId: 'spiffe://acme/triage',
        taskId: 'T-7',
        audience: ['github'],
        scopes: ['issues:read', 'issues:write'],
        resources: ['acme/widgets/**'],
        expiresAt: t0 + 900_000,
        maxSessionS: 3600,
        time: t0 + 1000,
      }),
    );
    const refreshed = tokens.refreshed({
      tokenId: 'tok-7b',
      parentId: root,
      agentId: 'triage-bot',
      taskId: 'T-7',
      audience: ['github'],
      scopes: ['issues:read'],
      expiresAt: t0 + 1_800_000,
      time: t0 + 600_000,
    });
    tokens.exchanged({
      tokenId: 'tok-7c',
      parentId: refreshed,
      agentId: 'label-helper',
      taskId: 'T-7',
      audience: ['github'],
      scopes: ['issues:write'],
      environment: 'staging',
      time: t0 + 700_000,
    });
    tokens.revoked({ tokenId: 'tok-7c', reason: 'task finished', time: t0 + 800_000 });
    tasks.ended('T-7', 'completed', { time: t0 + 900_000 });
    await Promise.all([broker.shutdown(), orchestrator.shutdown()]);

    expect(root).toBe(tokenFingerprint(secret));
    const events = await monitor.store.query<StoredTokenEvent>('SELECT * EXCEPT (attributes) FROM token_events ORDER BY time');
    expect(events.map((e) => e.event)).toEqual(['issued', 'refreshed', 'exchanged', 'revoked']);
    expect(events[0]).toMatchObject({
      token_id: root,
      parent_id: '',
      task_id: 'T-7',
      agent_id: 'triage-bot',
      workload_id: 'spiffe://acme/triage',
      audience: ['github'],
      scopes: ['issues:read', 'issues:write'],
      resources: ['acme/widgets/**'],
      max_session_s: 3600,
      environment: 'prod',
      caller: 'token-broker',
    });
    // Times come back at each column's precision; compare instants.
    expect(Date.parse(events[0]?.time ?? '')).toBe(t0 + 1000);
    expect(Date.parse(events[0]?.expires_at ?? '')).toBe(t0 + 900_000);
    expect(events[1]).toMatchObject({ token_id: 'tok-7b', parent_id: root, scopes: ['issues:read'] });
    expect(events[2]).toMatchObject({ token_id: 'tok-7c', parent_id: 'tok-7b', agent_id: 'label-helper', environment: 'staging' });
    expect(events[3]).toMatchObject({ token_id: 'tok-7c', revoked_reason: 'task finished', agent_id: '', task_id: '' });

    const taskRows = await monitor.store.query<{
      event: string;
      task_id: string;
      agent_id: string;
      intent: string;
      tools: string[];
      deadline: string | null;
    }>('SELECT event, task_id, agent_id, intent, tools, deadline FROM task_events ORDER BY time');
    expect(taskRows).toEqual([
      {
        event: 'started',
        task_id: 'T-7',
        agent_id: 'triage-bot',
        intent: 'label new issues',
        tools: ['github.list_issues', 'github.add_label'],
        deadline: expect.stringMatching(/^2026-11-25T11:00:00(\.0+)?Z$/),
      },
      { event: 'completed', task_id: 'T-7', agent_id: '', intent: '', tools: [], deadline: null },
    ]);
    expect(await monitor.storedText()).not.toContain(secret);
  });

  it('stores a renewal through the collector as the same token living on until its new expiry', async () => {
    const broker = createAgentTracerProvider({ serviceName: 'vault', environment: 'prod', endpoint: monitor.endpoint });
    const tokens = new TokenEvents(broker.getTracer('broker'));
    const t0 = Date.parse('2026-11-26T09:00:00Z');
    const lease = 'hvs.CAESIJrenewable-lease-token-0123456789';

    const id = tokens.issued({
      token: lease,
      agentId: 'deploy-bot',
      taskId: 'T-8',
      audience: ['vault'],
      scopes: ['secret:read'],
      expiresAt: t0 + 600_000,
      time: t0,
    });
    expect(tokens.renewed({ token: lease, expiresAt: t0 + 3_600_000, time: t0 + 540_000 })).toBe(id);
    expect(() => tokens.renewed({ tokenId: id } as never)).toThrow(/expiresAt/);
    await broker.shutdown();

    const rows = await monitor.store.query<StoredTokenEvent>(
      'SELECT * EXCEPT (attributes) FROM token_events WHERE token_id = {id:String} ORDER BY time',
      { id },
    );
    expect(rows.map((r) => [r.event, r.parent_id, Date.parse(r.expires_at ?? '')])).toEqual([
      ['issued', '', t0 + 600_000],
      ['renewed', '', t0 + 3_600_000],
    ]);
    expect(rows[1]).toMatchObject({ caller: 'vault', agent_id: '', environment: 'prod' });
    // The lineage reads it as the same token living longer: valid past its first expiry, expired after the renewed one.
    const lineage = (await new Lineage(monitor.store).lineages([id])).get(id);
    expect(lineage?.renewals).toHaveLength(1);
    const later = stateAt(lineage as NonNullable<typeof lineage>, t0 + 1_200_000);
    expect(later.status).toBe('valid');
    expect(Date.parse(later.renewedUntil ?? '')).toBe(t0 + 3_600_000);
    expect(stateAt(lineage as NonNullable<typeof lineage>, t0 + 3_700_000).status).toBe('expired');
    expect(await monitor.storedText()).not.toContain(lease);
  });
});
