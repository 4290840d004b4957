import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMonitor } from '../support/monitor.js';
import { runTs } from '../support/monitor.js';
import { plannedSpan } from '../support/span-plan.js';

const SPANS = 300;
let monitor: Awaited<ReturnType<typeof startMonitor>>;

beforeAll(async () => {
  monitor = await startMonitor();
});

afterAll(async () => {
  await monitor?.stop();
});

describe.each(['proto', 'http'] as const)('an agent on @opentelemetry/sdk-node with the OTLP %s exporter', (protocol) => {
  const run = `${protocol}${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    const out = await runTs('test/src/support/export-spans.ts', [protocol, monitor.url, run, String(SPANS)]);
    expect(JSON.parse(out)).toEqual({ run, protocol, spans: SPANS, lifecycle: 2 });
  });

  it('gets every span stored exactly once', async () => {
    const counts = await monitor.store.query<{ seq: string; c: string }>(
      "SELECT attributes['test.seq'] AS seq, count() AS c FROM spans WHERE caller = {caller:String} GROUP BY seq",
      { caller: `${run}-svc` },
    );
    expect(counts).toHaveLength(SPANS);
    expect(counts.filter((r) => r.c !== '1')).toEqual([]);
    expect(new Set(counts.map((r) => Number(r.seq)))).toEqual(new Set(Array.from({ length: SPANS }, (_, i) => i)));
  });

  it('gets each span normalised as docs/conventions.md §1.1 says, times exact to the nanosecond', async () => {
    const rows = await monitor.store.query<Record<string, unknown> & { seq: string }>(
      `SELECT attributes['test.seq'] AS seq, time, token_id, task_id, agent_id, target, action, scopes, resource, environment, caller,
              kind, scope_name, length(trace_id) AS trace_len, length(span_id) AS span_len
       FROM spans WHERE caller = {caller:String}`,
      { caller: `${run}-svc` },
    );
    expect(rows).toHaveLength(SPANS);
    for (const row of rows) {
      const { seq, kind, scope_name, trace_len, span_len, ...fields } = row;
      expect(fields, `span ${seq}`).toEqual(plannedSpan(run, Number(seq)).expected);
      expect({ kind, scope_name, trace_len, span_len }).toEqual({
        kind: 3,
        scope_name: 'intentwatch.e2e',
        trace_len: '32',
        span_len: '16',
      });
    }
  });

  it('gets the token and task lifecycle spans into their tables, arrays and times parsed', async () => {
    const tokens = await monitor.store.query(
      'SELECT * EXCEPT (ingested_at, attributes, trace_id, span_id) FROM token_events WHERE token_id = {t:String}',
      {
        t: `${run}-tok-0`,
      },
    );
    expect(tokens).toEqual([
      {
        time: '2026-11-25T09:46:40.000000001Z',
        event: 'issued',
        token_id: `${run}-tok-0`,
        parent_id: '',
        task_id: `${run}-task-0`,
        agent_id: 'triage-bot',
        workload_id: '',
        audience: ['github', 'jira'],
        scopes: ['repo:read', 'issues:read', 'issues:write'],
        resources: ['repos/acme/**'],
        expires_at: '2026-11-25T11:00:00.000Z',
        max_session_s: 7200,
        environment: 'staging',
        revoked_reason: '',
        caller: `${run}-svc`,
        source: 'otlp',
      },
    ]);
    const tasks = await monitor.store.query(
      'SELECT time, event, agent_id, intent, tools, deadline, caller FROM task_events WHERE task_id = {t:String}',
      {
        t: `${run}-task-0`,
      },
    );
    expect(tasks).toEqual([
      {
        time: '2026-11-25T09:30:00.000000000Z',
        event: 'started',
        agent_id: 'triage-bot',
        intent: 'triage new issues',
        tools: ['list_issues', 'create_issue'],
        deadline: '2026-11-25T11:00:00.000Z',
        caller: `${run}-svc`,
      },
    ]);
  });
});
