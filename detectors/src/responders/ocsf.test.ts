import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertStore, alertId } from '../alerts/alert-store.js';
import type { AlertSource, Finding } from '../alerts/model.js';
import { type TestStore, openTestStore } from '../test-support/store.js';
import { OcsfExporter, attackOf } from './ocsf.js';

/**
 * The attributes OCSF 1.x marks required for a Detection Finding (class 2004) — from the base
 * event (activity_id, category_uid, class_uid, metadata, severity_id, time, type_uid), the
 * Findings category (finding_info) and the objects they hold (metadata.product, metadata.version;
 * finding_info.uid, finding_info.title) — with their types, plus the recommended attributes we
 * promise to fill. Returns the problems found, empty when the object conforms.
 */
function ocsfProblems(o: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const int = (path: string, v: unknown) => Number.isInteger(v) || problems.push(`${path}: expected an integer, got ${JSON.stringify(v)}`);
  const str = (path: string, v: unknown) =>
    (typeof v === 'string' && v.length > 0) || problems.push(`${path}: expected a non-empty string, got ${JSON.stringify(v)}`);
  const obj = (path: string, v: unknown): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      problems.push(`${path}: expected an object, got ${JSON.stringify(v)}`);
      return {};
    }
    return v as Record<string, unknown>;
  };
  const timestamp = (path: string, v: unknown) =>
    (Number.isInteger(v) && (v as number) > Date.parse('2020-01-01')) ||
    problems.push(`${path}: expected epoch ms, got ${JSON.stringify(v)}`);

  for (const k of ['activity_id', 'category_uid', 'class_uid', 'severity_id', 'type_uid', 'status_id', 'count']) int(k, o[k]);
  timestamp('time', o.time);
  if (o.class_uid !== 2004) problems.push('class_uid: expected 2004');
  if (o.category_uid !== 2) problems.push('category_uid: expected 2 (Findings)');
  if (![1, 2, 3].includes(o.activity_id as number)) problems.push('activity_id: expected 1, 2 or 3');
  if (o.type_uid !== 200400 + (o.activity_id as number)) problems.push('type_uid: expected class_uid * 100 + activity_id');
  if (![0, 1, 2, 3, 4, 5, 6, 99].includes(o.severity_id as number)) problems.push('severity_id: not in the enum');
  if (![0, 1, 2, 3, 4, 5, 6, 99].includes(o.status_id as number)) problems.push('status_id: not in the enum');
  str('message', o.message);
  if (typeof o.is_alert !== 'boolean') problems.push('is_alert: expected a boolean');
  const metadata = obj('metadata', o.metadata);
  if (!/^1\.\d+\.\d+$/.test(String(metadata.version))) problems.push('metadata.version: expected an OCSF 1.x SemVer');
  const product = obj('metadata.product', metadata.product);
  str('metadata.product.name', product.name);
  str('metadata.product.vendor_name', product.vendor_name);
  const info = obj('finding_info', o.finding_info);
  str('finding_info.uid', info.uid);
  str('finding_info.title', info.title);
  str('finding_info.desc', info.desc);
  timestamp('finding_info.first_seen_time', info.first_seen_time);
  timestamp('finding_info.last_seen_time', info.last_seen_time);
  if (!Array.isArray(info.types) || !info.types.every((t) => typeof t === 'string')) problems.push('finding_info.types: expected strings');
  if (!Array.isArray(info.attacks)) problems.push('finding_info.attacks: expected an array');
  for (const [i, a] of ((info.attacks as unknown[]) ?? []).entries()) {
    const attack = obj(`finding_info.attacks[${i}]`, a);
    if (!attack.technique && !attack.sub_technique && !attack.tactic)
      problems.push(`finding_info.attacks[${i}]: needs a technique, sub-technique or tactic`);
    for (const part of ['technique', 'sub_technique', 'tactic']) {
      if (attack[part] !== undefined) str(`finding_info.attacks[${i}].${part}.uid`, obj(part, attack[part]).uid);
    }
  }
  if (!Array.isArray(o.evidences) || o.evidences.length === 0) problems.push('evidences: expected at least one');
  for (const [i, e] of ((o.evidences as unknown[]) ?? []).entries()) obj(`evidences[${i}].data`, obj(`evidences[${i}]`, e).data);
  return problems;
}

const SOURCE: AlertSource = {
  id: 'cross_service_reuse',
  title: 'Token used outside its audience',
  frameworks: ['OWASP-ASI03', 'OWASP-NHI9', 'MITRE-ATLAS-AML.T0091.000', 'MITRE-ATTACK-T1550.001'],
};

let ts: TestStore;
let store: AlertStore;
let exporter: OcsfExporter;
let startMs = 0;
let n = 0;

function finding(token: string, severity: Finding['severity'] = 'high'): Finding {
  n++;
  return {
    key: 'slack',
    severity,
    reason: `token ${token} issued for [github] was used against slack by agent triage-bot`,
    tokenId: token,
    rootTokenId: token,
    agentId: 'triage-bot',
    taskId: 'T-9',
    caller: 'triage-svc',
    target: 'slack',
    environment: 'prod',
    evidence: { traceId: 'd'.repeat(32), spanId: n.toString(16).padStart(16, '0'), time: new Date(Date.now() - 60_000 + n).toISOString() },
  };
}

const id = (token: string) => alertId(SOURCE.id, token, 'slack');

beforeAll(async () => {
  ts = await openTestStore();
  store = new AlertStore(ts.store);
  exporter = new OcsfExporter(ts.store);
  startMs = Date.now() - 1000;
  await store.record(SOURCE, [finding('new-1', 'medium')]);
  await store.record(SOURCE, [finding('grown-1', 'high')]);
  await store.record(SOURCE, [finding('grown-1', 'critical')]);
  await store.record(SOURCE, [finding('closed-1', 'low')]);
  await store.updateTriage(id('closed-1'), { status: 'resolved', note: 'token rotated' }, 'key:ana');
  await store.record(SOURCE, [finding('fp-1')]);
  await store.updateTriage(id('fp-1'), { status: 'false_positive' }, 'key:ana');
  await store.record(SOURCE, [finding('ack-1')]);
  await store.updateTriage(id('ack-1'), { status: 'acknowledged' }, 'key:ana');
});
afterAll(async () => {
  await ts?.dispose();
});

describe('OCSF export', () => {
  it('gives every alert as a Detection Finding with every required field, of the right type', async () => {
    const all = [];
    for await (const f of exporter.stream(startMs)) all.push(f);

    expect(all).toHaveLength(5);
    for (const f of all) expect(ocsfProblems(f as unknown as Record<string, unknown>), f.finding_info.uid).toEqual([]);
  });

  it('follows the alert state: Create when new, Update with new evidence or triage, Close when resolved or false positive', async () => {
    const by = async (token: string) => exporter.one(id(token));
    expect(await by('new-1')).toMatchObject({ activity_id: 1, activity_name: 'Create', type_uid: 200401, status_id: 1, is_alert: true });
    expect(await by('grown-1')).toMatchObject({ activity_id: 2, type_uid: 200402, count: 2, severity_id: 5, severity: 'Critical' });
    expect(await by('ack-1')).toMatchObject({ activity_id: 2, status_id: 2, status: 'In Progress' });
    expect(await by('closed-1')).toMatchObject({ activity_id: 3, type_uid: 200403, status_id: 4, status: 'Resolved', is_alert: false });
    expect(await by('fp-1')).toMatchObject({ activity_id: 3, status_id: 3, status: 'Suppressed' });
    expect(await exporter.one('no-such-alert')).toBeUndefined();
  });

  it('carries severity, first and last seen, count, evidence and the ATLAS / ATT&CK techniques', async () => {
    const f = await exporter.one(id('grown-1'));
    expect(f?.finding_info).toMatchObject({
      uid: id('grown-1'),
      title: SOURCE.title,
      types: ['cross_service_reuse', 'OWASP-ASI03', 'OWASP-NHI9'],
      attacks: [
        { technique: { uid: 'AML.T0091' }, sub_technique: { uid: 'AML.T0091.000' } },
        {
          technique: { uid: 'T1550', name: 'Use Alternate Authentication Material' },
          sub_technique: { uid: 'T1550.001', name: 'Application Access Token' },
          tactic: { uid: 'TA0005', name: 'Defense Evasion' },
        },
      ],
    });
    expect(f?.finding_info.first_seen_time).toBeLessThan(f?.finding_info.last_seen_time ?? 0);
    expect(f?.start_time).toBe(f?.finding_info.first_seen_time);
    expect(f?.evidences).toHaveLength(2);
    expect(f?.evidences[0]?.data).toMatchObject({ trace_id: 'd'.repeat(32) });
    expect(f?.unmapped).toMatchObject({ token_id: 'grown-1', root_token_id: 'grown-1', task_id: 'T-9', environment: 'prod' });
  });

  it('streams only alerts changed at or after since, each once, oldest change first', async () => {
    const cut = Date.now();
    await store.updateTriage(id('new-1'), { status: 'acknowledged' }, 'key:ana');
    await store.record(SOURCE, [finding('late-1')]);

    const uids: string[] = [];
    for await (const f of exporter.stream(cut, 1)) uids.push(f.finding_info.uid);

    expect(uids).toEqual([id('new-1'), id('late-1')]);
  });

  it('reads framework ids with or without their scheme prefix', () => {
    expect(attackOf('T1550.001')?.sub_technique?.uid).toBe('T1550.001');
    expect(attackOf('MITRE-ATLAS-AML.T0053')).toEqual({ technique: { uid: 'AML.T0053' } });
    expect(attackOf('OWASP-ASI03')).toBeUndefined();
  });
});
