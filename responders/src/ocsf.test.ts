import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AlertSource, AlertStore, type Finding, alertId } from '@intentwatch/alerts';
import { type TestStore, openTestStore } from '@intentwatch/testkit';
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

/**
 * Attribute names OCSF 1.8.0 defines (ocsf-schema at its v1.8.0 release commit: events/base_event.json,
 * events/findings/finding.json, events/findings/detection_finding.json and the objects used).
 * Anything else a finding carries must be under `unmapped`.
 */
const OCSF_1_8_0: Record<string, string[]> = {
  '': [
    ...['activity_id', 'activity_name', 'category_name', 'category_uid', 'class_name', 'class_uid', 'count', 'duration', 'end_time'],
    ...['enrichments', 'message', 'metadata', 'observables', 'raw_data', 'raw_data_hash', 'raw_data_size', 'severity', 'severity_id'],
    ...['start_time', 'status', 'status_code', 'status_detail', 'status_id', 'time', 'timezone_offset', 'type_name', 'type_uid'],
    ...['unmapped', 'comment', 'confidence', 'confidence_id', 'confidence_score', 'device', 'finding_info', 'vendor_attributes'],
    ...['actor', 'anomaly_analyses', 'evidences', 'impact', 'impact_id', 'impact_score', 'is_alert', 'malware', 'malware_scan_info'],
    ...['remediation', 'resources', 'risk_details', 'risk_level', 'risk_level_id', 'risk_score', 'vulnerabilities'],
  ],
  metadata: [
    ...['correlation_uid', 'debug', 'event_code', 'extension', 'extensions', 'is_truncated', 'labels', 'log_format', 'log_level'],
    ...['log_name', 'log_provider', 'log_source', 'log_version', 'logged_time', 'loggers', 'modified_time', 'original_event_uid'],
    ...['original_time', 'processed_time', 'product', 'profiles', 'reporter', 'sequence', 'source', 'tags', 'tenant_uid'],
    ...['total_queued_duration', 'transformation_info_list', 'transmit_time', 'type', 'uid', 'untruncated_size', 'version'],
  ],
  finding_info: [
    ...['analytic', 'attack_graph', 'attacks', 'created_time', 'data_sources', 'desc', 'first_seen_time', 'kill_chain'],
    ...['last_seen_time', 'modified_time', 'product', 'product_uid', 'related_analytics', 'related_events', 'related_events_count'],
    ...['src_url', 'tags', 'title', 'traits', 'types', 'uid', 'uid_alt'],
  ],
  actor: ['app_name', 'app_uid', 'authorizations', 'idp', 'invoked_by', 'process', 'session', 'user'],
  'actor.session': [
    ...['count', 'created_time', 'credential_uid', 'expiration_reason', 'expiration_time', 'is_mfa', 'is_remote', 'is_vpn'],
    ...['issuer', 'terminal', 'uid', 'uid_alt', 'uuid'],
  ],
};

/** Attributes of `o` (at the paths OCSF_1_8_0 lists) that OCSF 1.8.0 does not define. */
function undefinedIn180(o: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [path, names] of Object.entries(OCSF_1_8_0)) {
    const at =
      path === '' ? o : (path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)?.[k], o) as Record<string, unknown>);
    for (const k of Object.keys(at ?? {})) if (!names.includes(k)) out.push(path ? `${path}.${k}` : k);
  }
  return out;
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
  it('follows OCSF 1.8.0: only attributes that version defines, with the agent, session and delegation chain', async () => {
    const grant = (event: string, token: string, parent: string, agent: string) => ({
      time: new Date(Date.now() - 120_000).toISOString(),
      ingested_at: new Date().toISOString(),
      event,
      token_id: token,
      parent_id: parent,
      task_id: 'T-9',
      agent_id: agent,
      workload_id: '',
      audience: ['slack'],
      scopes: [],
      resources: [],
      expires_at: null,
      max_session_s: null,
      environment: 'prod',
      revoked_reason: '',
      caller: 'broker',
      trace_id: '',
      span_id: '',
      source: 'test',
      attributes: {},
    });
    await ts.store.insert('token_events', [
      grant('issued', 'deleg-1', '', 'planner-bot'),
      grant('exchanged', 'deleg-2', 'deleg-1', 'triage-bot'),
    ]);
    await store.record(SOURCE, [finding('deleg-2')]);
    const f = await exporter.one(id('deleg-2'));
    expect(f?.metadata.version).toBe('1.8.0');
    expect(undefinedIn180(f as unknown as Record<string, unknown>)).toEqual([]);
    expect(f?.actor).toMatchObject({ user: { uid: 'triage-bot' }, session: { uid: 'deleg-2', credential_uid: 'deleg-2' } });
    expect(f?.unmapped.delegation_chain).toEqual(['deleg-2', 'deleg-1']);
    const streamed = [];
    for await (const x of exporter.stream(startMs)) if (x.finding_info.uid === id('deleg-2')) streamed.push(x);
    expect(streamed.map((x) => x.unmapped.delegation_chain)).toEqual([['deleg-2', 'deleg-1']]);
  });
});
