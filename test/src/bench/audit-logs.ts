import { readFileSync } from 'node:fs';
import { logsRequestJson } from '@intentwatch/collector';

/**
 * The `/v1/logs` workload of the ingest phase: CloudTrail records, built from the records of
 * test/fixtures/audit-logs/cloudtrail.json, sent as an OpenTelemetry Collector's filelog receiver
 * sends a file of them (OTLP/JSON, each record's JSON text the body of one log record).
 *
 * A session is what one agent leaves in CloudTrail: the AssumeRole that issues its temporary
 * credentials (one hour), `usesPerSession` GetObject calls with them inside the session policy,
 * and an unrelated DescribeInstances by the broker's own key, which the collector skips. Every
 * session has its own access key id and agent, every record its own event ID and a time of its
 * own, all before `startMs`, so that the records become stored rows and no detector's alert.
 */

const FIXTURE = new URL('../../fixtures/audit-logs/cloudtrail.json', import.meta.url);
const FIXTURE_KEY = 'ASIAIOSFODNN7EXAMPLE';
const FIXTURE_SESSION = 'report-agent-T-42';

type CloudTrailRecord = Record<string, unknown>;

let fixture: { assumeRole: CloudTrailRecord; getObject: CloudTrailRecord; describe: CloudTrailRecord } | undefined;

function records() {
  if (!fixture) {
    const all = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { Records: CloudTrailRecord[] }).Records;
    const named = (name: string) => {
      const r = all.find((x) => x.eventName === name);
      if (!r) throw new Error(`${FIXTURE.pathname} has no ${name} record`);
      return r;
    };
    fixture = { assumeRole: named('AssumeRole'), getObject: named('GetObject'), describe: named('DescribeInstances') };
  }
  return fixture;
}

export interface AuditLogRequestOptions {
  /** Names the sessions (agents and keys) of this pool apart from other pools'. */
  prefix: string;
  requests: number;
  recordsPerRequest: number;
  /** GetObject records per session (each session also has an AssumeRole and a DescribeInstances). */
  usesPerSession?: number;
  /** The time of the last record; the others are before it. */
  startMs: number;
}

export interface EncodedLogRequest {
  body: Uint8Array;
  records: number;
  /** Rows the records become: a token event per AssumeRole, a span per GetObject. */
  rows: number;
}

/** "Dec 2, 2026, 10:15:00 AM": how CloudTrail writes an AssumeRole's credential expiration. */
export function cloudTrailExpiration(ms: number): string {
  const d = new Date(ms);
  const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const h = d.getUTCHours();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${month} ${d.getUTCDate()}, ${d.getUTCFullYear()}, ${h % 12 === 0 ? 12 : h % 12}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`;
}

/** A temporary access key id of the shape STS gives (ASIA and 16 characters), one per session. */
export function sessionKeyId(prefix: string, session: number): string {
  let h = 2166136261;
  for (const c of `${prefix}/${session}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return `ASIA${h.toString(36).toUpperCase().padStart(7, '0').slice(0, 7)}${session.toString(36).toUpperCase().padStart(9, '0')}`;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The records of one session, the first at `t0`, one a second. */
export function sessionRecords(prefix: string, session: number, uses: number, t0: number): CloudTrailRecord[] {
  const { assumeRole, getObject, describe } = records();
  const key = sessionKeyId(prefix, session);
  const agent = `${prefix}-agent-${session}`;
  // The session's key and agent name everywhere the fixture names them.
  const own = (r: CloudTrailRecord) =>
    JSON.parse(JSON.stringify(r).replaceAll(FIXTURE_KEY, key).replaceAll(FIXTURE_SESSION, agent)) as CloudTrailRecord;
  const id = (n: number) => `${prefix}-${session}-${n}`;
  const grant = own(assumeRole);
  grant.eventTime = iso(t0);
  grant.eventID = id(0);
  const credentials = (grant.responseElements as { credentials: Record<string, string> }).credentials;
  credentials.expiration = cloudTrailExpiration(t0 + 3_600_000);
  const out = [grant];
  for (let i = 1; i <= uses; i++) {
    const use = own(getObject);
    const objectKey = `2026/q3/part-${session}-${i}.csv`;
    use.eventTime = iso(t0 + i * 1000);
    use.eventID = id(i);
    (use.userIdentity as { sessionContext: { attributes: { creationDate: string } } }).sessionContext.attributes.creationDate = iso(t0);
    (use.requestParameters as { key: string }).key = objectKey;
    (use.resources as { ARN: string }[])[0]!.ARN = `arn:aws:s3:::quarterly-reports/${objectKey}`;
    out.push(use);
  }
  const other = own(describe);
  other.eventTime = iso(t0 + (uses + 1) * 1000);
  other.eventID = id(uses + 1);
  out.push(other);
  return out;
}

/** `requests` OTLP/JSON ExportLogsServiceRequests of `recordsPerRequest` CloudTrail records each. */
export function auditLogRequests(o: AuditLogRequestOptions): EncodedLogRequest[] {
  const uses = o.usesPerSession ?? 30;
  const perSession = uses + 2;
  const total = o.requests * o.recordsPerRequest;
  const sessions = Math.ceil(total / perSession);
  // One session a second, the last one's records ending at startMs.
  const first = o.startMs - (sessions + perSession) * 1000;
  const all: CloudTrailRecord[] = [];
  for (let s = 0; all.length < total; s++) all.push(...sessionRecords(o.prefix, s, uses, first + s * 1000));
  const out: EncodedLogRequest[] = [];
  for (let r = 0; r < o.requests; r++) {
    const slice = all.slice(r * o.recordsPerRequest, (r + 1) * o.recordsPerRequest);
    const rows = slice.filter((x) => x.eventName !== 'DescribeInstances').length;
    const body = Buffer.from(
      logsRequestJson(slice, { 'intentwatch.source': 'cloudtrail', 'service.name': 'cloudtrail-filelog' }, o.startMs),
    );
    out.push({ body, records: slice.length, rows });
  }
  return out;
}
