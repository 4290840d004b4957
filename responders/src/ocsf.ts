import { readFileSync } from 'node:fs';
import type { Store } from '@intentwatch/core';
import type { Severity } from '@intentwatch/alerts';
import { AlertReader, type AlertSnapshot } from './alert-reader.js';
import { RevokeTargets } from './revoke-targets.js';

/**
 * The OCSF schema version the findings follow: 1.8.0, the newest release of ocsf-schema
 * (`version.json` of its v1.8.0 release commit). The `ai_agent` object exists only on the schema's
 * 1.9.0-dev main line (in `evidences`, `process` and the `ai_operation` profile) and no release
 * has a delegation object, so the agent is the actor's user, the session is `actor.session`
 * (1.8.0), and the delegation chain goes under `unmapped`.
 */
export const OCSF_VERSION = '1.8.0';

const PRODUCT_VERSION: string = (() => {
  try {
    // src and dist are both one level below the package.
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

const ACTIVITY = { 1: 'Create', 2: 'Update', 3: 'Close' } as const;
type ActivityId = keyof typeof ACTIVITY;

/** OCSF severity_id: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical. */
const SEVERITY_ID: Record<Severity, { id: number; name: string }> = {
  low: { id: 2, name: 'Low' },
  medium: { id: 3, name: 'Medium' },
  high: { id: 4, name: 'High' },
  critical: { id: 5, name: 'Critical' },
};

/** Finding status_id: 1 New, 2 In Progress, 3 Suppressed, 4 Resolved. */
const STATUS_ID: Record<string, { id: number; name: string }> = {
  open: { id: 1, name: 'New' },
  acknowledged: { id: 2, name: 'In Progress' },
  false_positive: { id: 3, name: 'Suppressed' },
  resolved: { id: 4, name: 'Resolved' },
};

/** ATT&CK names of the techniques our detectors cite (docs/conventions.md §2); ATLAS ids go by id alone. */
const TECHNIQUE_NAMES: Record<string, string> = {
  T1550: 'Use Alternate Authentication Material',
  'T1550.001': 'Application Access Token',
};
/** ATT&CK tactics of those techniques. */
const TACTICS: Record<string, { uid: string; name: string }> = {
  T1550: { uid: 'TA0005', name: 'Defense Evasion' },
};

export interface OcsfAttack {
  technique: { uid: string; name?: string };
  sub_technique?: { uid: string; name?: string };
  tactic?: { uid: string; name: string };
}

/** An OCSF 1.x Detection Finding (class 2004), as far as intentwatch fills it. */
export interface OcsfDetectionFinding {
  class_uid: 2004;
  class_name: 'Detection Finding';
  category_uid: 2;
  category_name: 'Findings';
  activity_id: ActivityId;
  activity_name: string;
  type_uid: number;
  type_name: string;
  severity_id: number;
  severity: string;
  status_id: number;
  status: string;
  /** Epoch ms of this activity: creation, last update, or closing. */
  time: number;
  start_time: number;
  end_time: number;
  count: number;
  message: string;
  is_alert: boolean;
  metadata: {
    version: string;
    product: { name: string; vendor_name: string; version: string };
    uid: string;
    log_name: string;
    original_time: string;
  };
  finding_info: {
    uid: string;
    title: string;
    desc: string;
    created_time: number;
    modified_time: number;
    first_seen_time: number;
    last_seen_time: number;
    types: string[];
    attacks: OcsfAttack[];
    analytic: { uid: string; name: string; type_id: 1; type: 'Rule' };
    data_sources: string[];
  };
  evidences: { data: { trace_id: string; span_id: string; time: string } }[];
  resources: { name: string; type: string }[];
  actor: {
    user: { uid: string; name: string; type_id: 99; type: string };
    app_name: string;
    /** The token's session: its root token (`uid`) and the token the alert names (`credential_uid`). */
    session: { uid: string; credential_uid: string };
  };
  unmapped: Record<string, unknown>;
}

/**
 * An alert as an OCSF Detection Finding. The activity follows the alert's state: Close once
 * resolved or marked a false positive, Update once it has gained evidence or been triaged, Create
 * otherwise; `time` is the moment of that activity. Framework ids of the form
 * `…T1550.001` / `…AML.T0091.000` become `finding_info.attacks`; the rest (OWASP) go to `types`.
 */
export function toOcsf(s: AlertSnapshot, delegationChain: string[] = []): OcsfDetectionFinding {
  const a = s.alert;
  const closed = a.status === 'resolved' || a.status === 'false_positive';
  const updated = a.count > 1 || s.triagedAt !== null || Date.parse(s.updatedAt) > Date.parse(s.createdAt);
  const activity: ActivityId = closed ? 3 : updated ? 2 : 1;
  const severity = SEVERITY_ID[a.severity] ?? { id: 0, name: 'Unknown' };
  const status = STATUS_ID[a.status] ?? { id: 0, name: 'Unknown' };
  const createdMs = Date.parse(s.createdAt);
  const modifiedMs = Math.max(Date.parse(s.updatedAt), s.triagedAt ? Date.parse(s.triagedAt) : 0);
  const firstMs = Date.parse(a.firstSeen);
  const lastMs = Date.parse(a.lastSeen);
  const attacks: OcsfAttack[] = [];
  const types = [a.detector];
  for (const f of a.frameworks) {
    const attack = attackOf(f);
    if (attack) attacks.push(attack);
    else types.push(f);
  }
  return {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: activity,
    activity_name: ACTIVITY[activity],
    type_uid: 200400 + activity,
    type_name: `Detection Finding: ${ACTIVITY[activity]}`,
    severity_id: severity.id,
    severity: severity.name,
    status_id: status.id,
    status: status.name,
    time: activity === 1 ? createdMs : modifiedMs,
    start_time: firstMs,
    end_time: lastMs,
    count: a.count,
    message: a.reason,
    is_alert: !closed,
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'intentwatch', vendor_name: 'intentwatch', version: PRODUCT_VERSION },
      // One uid per state of the finding, so that a SIEM can tell updates apart and drop repeats.
      uid: `${a.id}:${s.version}:${activity}:${modifiedMs}`,
      log_name: 'alerts',
      original_time: a.lastSeen,
    },
    finding_info: {
      uid: a.id,
      title: a.title,
      desc: a.reason,
      created_time: createdMs,
      modified_time: modifiedMs,
      first_seen_time: firstMs,
      last_seen_time: lastMs,
      types,
      attacks,
      analytic: { uid: a.detector, name: a.detector, type_id: 1, type: 'Rule' },
      data_sources: ['OpenTelemetry spans', 'token lifecycle events'],
    },
    evidences: a.evidence.map((e) => ({ data: { trace_id: e.traceId, span_id: e.spanId, time: e.time } })),
    resources: a.target ? [{ name: a.target, type: 'service' }] : [],
    actor: {
      user: { uid: a.agentId, name: a.agentId, type_id: 99, type: 'AI agent' },
      app_name: a.caller,
      session: { uid: a.rootTokenId || a.tokenId, credential_uid: a.tokenId },
    },
    unmapped: {
      token_id: a.tokenId,
      root_token_id: a.rootTokenId,
      // From the session root up the `exchanged` links to the origin grant (docs/conventions.md §1.2).
      delegation_chain: delegationChain,
      task_id: a.taskId,
      environment: a.environment,
      frameworks: a.frameworks,
      intentwatch_status: a.status,
    },
  };
}

/** `MITRE-ATTACK-T1550.001`, `MITRE-ATLAS-AML.T0091.000` (or the bare ids) → an OCSF attack. */
export function attackOf(framework: string): OcsfAttack | undefined {
  const m = /(AML\.T\d{4}|T\d{4})(\.\d{3})?$/.exec(framework);
  if (!m) return undefined;
  const technique = m[1] as string;
  const attack: OcsfAttack = { technique: named(technique) };
  if (m[2]) attack.sub_technique = named(`${technique}${m[2]}`);
  const tactic = TACTICS[technique];
  if (tactic) attack.tactic = tactic;
  return attack;
}

function named(uid: string): { uid: string; name?: string } {
  const name = TECHNIQUE_NAMES[uid];
  return name ? { uid, name } : { uid };
}

/** Alerts as OCSF findings: one by id, or every alert changed since a time, streamed page by page. */
export class OcsfExporter {
  readonly #reader: AlertReader;
  readonly #lineage: RevokeTargets;

  constructor(store: Store) {
    this.#reader = new AlertReader(store);
    this.#lineage = new RevokeTargets(store);
  }

  async one(id: string): Promise<OcsfDetectionFinding | undefined> {
    const s = (await this.#reader.load([id])).get(id);
    if (!s) return undefined;
    const [chain] = await this.#chains([s]);
    return toOcsf(s, chain);
  }

  /** The delegation chain of each alert's token, resolved for a page of alerts at once. */
  async #chains(snapshots: AlertSnapshot[]): Promise<string[][]> {
    const targets = await this.#lineage.resolve(
      snapshots.map((s) => ({ tokenId: s.alert.tokenId, rootTokenId: s.alert.rootTokenId, mode: 'token' as const })),
    );
    return targets.map((t) => t.chain);
  }

  /**
   * Every alert changed (by detection or triage) at or after `sinceMs`, in order of change, each
   * once in its current state. Reads `pageSize` alerts at a time, so memory stays flat however
   * many there are.
   */
  async *stream(sinceMs: number, pageSize = 500): AsyncGenerator<OcsfDetectionFinding> {
    let after: { ms: number; id: string } | undefined;
    for (;;) {
      const page = await this.#reader.changedPage(sinceMs, after, pageSize);
      if (page.length === 0) return;
      const snapshots = await this.#reader.load(page.map((p) => p.id));
      const found = page.map((p) => snapshots.get(p.id)).filter((s): s is AlertSnapshot => s !== undefined);
      const chains = await this.#chains(found);
      for (const [i, s] of found.entries()) yield toOcsf(s, chains[i]);
      const last = page[page.length - 1] as { id: string; changedMs: number };
      after = { ms: last.changedMs, id: last.id };
      if (page.length < pageSize) return;
    }
  }
}
