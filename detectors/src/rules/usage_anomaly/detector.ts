import type { Finding, Severity } from '@intentwatch/alerts';
import { type DetectContext, type Row, defineDetector } from '../../define-detector.js';
import { nextVersion } from '@intentwatch/core';
import { FW } from '../frameworks.js';
import { countMadFloor, fanoutMadFloor, robustScore } from './robust-score.js';
import { DEFAULT_DETECTOR_SETTINGS } from '../../settings.js';

type Kind = 'agent' | 'token';

interface Bucket {
  kind: Kind;
  entity: string;
  /** Bucket start, epoch seconds. */
  bucket: number;
  requests: number;
  targets: number;
  topToken: string;
  topAgent: string;
}

/** Evidence spans kept per anomalous bucket (the first ones of the bucket). */
const EVIDENCE_PER_BUCKET = 20;

/**
 * An agent's or a token's request count or fan-out (distinct targets) per bucket of event time
 * departs from its own trailing baseline: modified z-score (median / MAD) above the threshold,
 * after a warm-up of baseline buckets with data, so that a new agent is not anomalous for being
 * new. Event-time buckets make back-dated history count as history. Per-bucket usage is kept
 * in `usage_buckets`, so a run recounts only the buckets its new data touched and reads the
 * baseline from there.
 */
export const usageAnomaly = defineDetector({
  id: 'usage_anomaly',
  title: "Usage departs from the agent's or token's own baseline",
  severity: 'low',
  description:
    "An agent's or token's request rate or fan-out (distinct targets) per bucket departs from its own trailing baseline by a robust score (0.6745·(x − median)/MAD above the threshold). Low; medium when the score is twice the threshold or both rate and fan-out depart.",
  frameworks: [FW.asi10, FW.atlasExfilViaApi],
  falsePositives: [
    'A scheduled batch job (nightly sync) whose first runs fall inside the baseline window.',
    'A deliberate change of workload (a new tool in the plan, more work items) — the baseline catches up within the baseline length.',
  ],
  runbook: [
    'Compare the anomalous bucket with the baseline: which targets are new, which tool calls dominate.',
    'Check the task the agent was on: does its intent explain the burst?',
    'Bursts against new targets right after untrusted input suggest a steered agent: pause it and review its transcript.',
  ],
  tuning: [
    `INTENTWATCH_ANOMALY_THRESHOLD (default ${DEFAULT_DETECTOR_SETTINGS.anomaly.threshold}): modified z-score above which a bucket is anomalous.`,
    `INTENTWATCH_ANOMALY_BUCKET_S (default ${DEFAULT_DETECTOR_SETTINGS.anomaly.bucketS}), INTENTWATCH_ANOMALY_BASELINE_BUCKETS (default ${DEFAULT_DETECTOR_SETTINGS.anomaly.baselineBuckets}), INTENTWATCH_ANOMALY_WARMUP_BUCKETS (default ${DEFAULT_DETECTOR_SETTINGS.anomaly.warmupBuckets}: baseline buckets with data needed before scoring).`,
    'Only departures upwards alert; MAD is floored (requests: 0.6745·√median, at least 1; fan-out: 0.5) so steady series do not alert on noise.',
  ],
  recheck: false,
  detect,
});

async function detect(ctx: DetectContext): Promise<Finding[]> {
  const b = ctx.config.anomaly.bucketS;
  const { baselineBuckets, warmupBuckets, threshold } = ctx.config.anomaly;
  // A live run recounts only the buckets of the agents and tokens its batch made suspect.
  const live = ctx.window.only !== undefined;
  const touched = await ctx.store.query<{ kind: Kind; entity: string; bucket: string }>(
    `SELECT DISTINCT kind, entity, bucket FROM (
       SELECT 'agent' AS kind, agent_id AS entity, ${bucketOf} AS bucket
       FROM spans WHERE token_id != '' AND agent_id != '' AND ingested_at > {since:DateTime64(3)} AND ingested_at <= {until:DateTime64(3)}${live ? ' AND agent_id IN {onlyAgents:Array(String)}' : ''}
       UNION ALL
       SELECT 'token' AS kind, token_id AS entity, ${bucketOf} AS bucket
       FROM spans WHERE token_id != '' AND ingested_at > {since:DateTime64(3)} AND ingested_at <= {until:DateTime64(3)}${live ? ' AND token_id IN {onlyTokens:Array(String)}' : ''}
     )`,
    { ...ctx.params, b },
  );
  // Buckets a stored DateTime can name, with their baselines: a use dated before 1970 or near
  // 2106 (a sender's clock) is left to the other detectors.
  const storable = touched.filter(
    (t) => Number(t.bucket) >= baselineBuckets * b && Number(t.bucket) + (baselineBuckets + 1) * b <= MAX_EPOCH_S,
  );
  if (storable.length === 0) return [];
  const keys = storable.map((t) => `${t.kind}|${t.entity}|${t.bucket}`);
  // A loop, not Math.min(...): a window may touch more buckets than a call takes arguments.
  let minB = Number.POSITIVE_INFINITY;
  let maxB = Number.NEGATIVE_INFINITY;
  for (const t of storable) {
    const at = Number(t.bucket);
    if (at < minB) minB = at;
    if (at > maxB) maxB = at;
  }
  const agents = [...new Set(storable.filter((t) => t.kind === 'agent').map((t) => t.entity))];
  const tokens = [...new Set(storable.filter((t) => t.kind === 'token').map((t) => t.entity))];

  // Each touched entity's buckets as kept, from the start of the earliest baseline to the end of
  // the latest bucket whose baseline the touched buckets belong to: a late (back-dated) bucket
  // changes the score of the buckets after it, so those are scored again too.
  const kept = await ctx.store.query<Row>(
    `SELECT entity_kind AS kind, entity, toUnixTimestamp(bucket) AS bucket,
            argMax(requests, version) AS requests, argMax(targets, version) AS targets,
            argMax(top_token, version) AS top_token, argMax(top_agent, version) AS top_agent
     FROM usage_buckets
     WHERE bucket_s = {b:UInt32}
       AND ((entity_kind = 'agent' AND entity IN {agents:Array(String)}) OR (entity_kind = 'token' AND entity IN {tokens:Array(String)}))
       AND bucket >= toDateTime({from:Int64}, 'UTC') AND bucket <= toDateTime({to:Int64}, 'UTC')
     GROUP BY entity_kind, entity, bucket
     ORDER BY entity_kind, entity, bucket`,
    { b, agents, tokens, from: minB - baselineBuckets * b, to: maxB + baselineBuckets * b },
  );

  // Recount every touched bucket in full (late spans join their bucket), then keep it: the sum
  // of its seconds in `usage_counts`, which the collector writes with the spans. A live run
  // also recounts its suspects' baseline buckets: the scheduled runs may not have counted the
  // history that arrived just before (a back-dated baseline, sent seconds earlier). A scheduled
  // run reads each stretch of touched buckets with only the entities that touched it, so that a
  // back-dated batch of one agent does not make it read every agent's seconds from then to now.
  const params: Record<string, unknown> = { b };
  const stretches = live ? [{ from: minB - baselineBuckets * b, to: maxB + b, agents, tokens }] : stretchesOf(storable, b, MAX_STRETCHES);
  const pairs = await ctx.store.query<PairCount>(
    `SELECT agent_id AS agent, token_id AS token, intDiv(toUnixTimestamp64Milli(second), 1000 * {b:UInt32}) * {b:UInt32} AS bucket,
            sum(requests) AS requests, groupUniqArrayArray(${MAX_TARGETS})(targets) AS targets,
            toUnixTimestamp64Milli(min(ingested_from)) AS first_ms
     FROM usage_counts
     WHERE ${stretches.map((st, i) => countsOfStretch(params, String(i), st)).join(' OR ')}
     GROUP BY agent, token, bucket`,
    params,
  );
  const touchedKeys = live ? undefined : new Set(keys);
  const counted = entityCounts(pairs, new Set(agents), new Set(tokens)).filter(
    (c) => touchedKeys === undefined || touchedKeys.has(`${c.kind}|${c.entity}|${c.bucket}`),
  );
  await ctx.store.insert(
    'usage_buckets',
    counted.map((c) => ({
      entity_kind: c.kind,
      entity: c.entity,
      bucket_s: b,
      bucket: new Date(Number(c.bucket) * 1000).toISOString(),
      requests: c.requests,
      targets: c.targets,
      top_token: c.top_token,
      top_agent: c.top_agent,
      ingested_from: new Date(c.first_ms).toISOString(),
      version: nextVersion(),
    })),
  );

  // The kept buckets with the recounted ones in their place.
  const current = new Map<string, Bucket>();
  for (const r of [...kept, ...counted]) {
    const bucket = toBucket(r);
    if (bucket.bucket >= minB - baselineBuckets * b && bucket.bucket <= maxB + baselineBuckets * b) {
      current.set(`${bucket.kind}|${bucket.entity}|${bucket.bucket}`, bucket);
    }
  }
  const rows = [...current.values()].sort((x, y) => cmp(x.kind, y.kind) || cmp(x.entity, y.entity) || x.bucket - y.bucket);
  const series = new Map<string, Bucket[]>();
  for (const r of rows) series.set(`${r.kind}|${r.entity}`, [...(series.get(`${r.kind}|${r.entity}`) ?? []), r]);
  const firstTouched = new Map<string, number>();
  for (const t of storable) {
    const k = `${t.kind}|${t.entity}`;
    firstTouched.set(k, Math.min(firstTouched.get(k) ?? Number.POSITIVE_INFINITY, Number(t.bucket)));
  }

  const anomalies: { c: Bucket; severity: Severity; text: string }[] = [];
  for (const [k, list] of series) {
    const from = firstTouched.get(k) ?? Number.POSITIVE_INFINITY;
    for (const c of list) {
      if (c.bucket < from) continue;
      const baseline = list.filter((h) => h.bucket < c.bucket && h.bucket >= c.bucket - baselineBuckets * b);
      if (baseline.length < warmupBuckets) continue;
      const rate = robustScore(
        c.requests,
        baseline.map((h) => h.requests),
        countMadFloor,
      );
      const fanout = robustScore(
        c.targets,
        baseline.map((h) => h.targets),
        fanoutMadFloor,
      );
      const parts: string[] = [];
      if (rate.z > threshold) parts.push(`${c.requests} requests against a median of ${fmt(rate.median)} (robust z ${rate.z.toFixed(1)})`);
      if (fanout.z > threshold)
        parts.push(`${c.targets} distinct targets against a median of ${fmt(fanout.median)} (robust z ${fanout.z.toFixed(1)})`);
      if (parts.length === 0) continue;
      const strong = Math.max(rate.z, fanout.z) >= 2 * threshold || parts.length === 2;
      anomalies.push({ c, severity: strong ? 'medium' : 'low', text: `${parts.join(' and ')}, over ${baseline.length} baseline buckets` });
    }
  }
  // A token's burst is its agent's burst when the agent alerts for the same bucket: say it once.
  const agentAlerts = new Set(anomalies.filter((a) => a.c.kind === 'agent').map((a) => `${a.c.entity}|${a.c.bucket}`));
  const reported = anomalies.filter((a) => a.c.kind === 'agent' || !agentAlerts.has(`${a.c.topAgent}|${a.c.bucket}`));
  if (reported.length === 0) return [];

  const evidenceParams: Record<string, unknown> = { b, keys: reported.map((a) => `${a.c.kind}|${a.c.entity}|${a.c.bucket}`) };
  const evidence = await ctx.store.query<Row>(
    `SELECT kind, entity, bucket, time, trace_id, span_id, task_id, caller, target, environment
     FROM (${spansOfStretch('time, trace_id, span_id, task_id, caller, target, environment', evidenceParams, '', {
       from: reported.reduce((m, a) => Math.min(m, a.c.bucket), Number.POSITIVE_INFINITY),
       to: reported.reduce((m, a) => Math.max(m, a.c.bucket), Number.NEGATIVE_INFINITY) + b,
       agents: reported.filter((a) => a.c.kind === 'agent').map((a) => a.c.entity),
       tokens: reported.filter((a) => a.c.kind === 'token').map((a) => a.c.entity),
     })})
     WHERE has({keys:Array(String)}, concat(kind, '|', entity, '|', toString(bucket)))
     ORDER BY kind, entity, bucket, time, span_id
     LIMIT ${EVIDENCE_PER_BUCKET} BY kind, entity, bucket`,
    evidenceParams,
  );
  const byKey = new Map(reported.map((a) => [`${a.c.kind}|${a.c.entity}|${a.c.bucket}`, a]));
  const findings: Finding[] = [];
  for (const e of evidence) {
    const a = byKey.get(`${e.kind}|${e.entity}|${e.bucket}`);
    if (!a) continue;
    const { c } = a;
    const when = new Date(c.bucket * 1000).toISOString().replace(/\.000Z$/, 'Z');
    const subject =
      c.kind === 'agent'
        ? `agent ${c.entity} (mostly with token ${c.topToken})`
        : `token ${c.entity}${c.topAgent ? ` (agent ${c.topAgent})` : ''}`;
    findings.push({
      key: `${c.kind}:${c.entity}`,
      // An agent's usage spans many sessions: its alert is keyed by the agent, not by a session.
      ...(c.kind === 'agent' ? { dedupRoot: `agent:${c.entity}` } : {}),
      severity: a.severity,
      reason: `${subject} made ${a.text} in the ${b} s from ${when}: usage far above its own baseline`,
      tokenId: c.kind === 'token' ? c.entity : c.topToken,
      agentId: c.kind === 'agent' ? c.entity : c.topAgent,
      taskId: e.task_id,
      caller: e.caller,
      target: e.target,
      environment: e.environment,
      evidence: { traceId: e.trace_id, spanId: e.span_id, time: e.time },
    });
  }
  return findings;
}

/**
 * The bucket of a span's event time, epoch seconds. Through milliseconds: `toUnixTimestamp`
 * fails on the times past 2106 that `spans` can hold.
 */
const bucketOf = 'intDiv(intDiv(toUnixTimestamp64Milli(time), 1000), {b:UInt32}) * {b:UInt32}';

/** The latest second a `DateTime` column (`usage_buckets.bucket`) holds. */
const MAX_EPOCH_S = 4_294_967_295;

/**
 * The `usage_counts` rows of a stretch's agents and tokens in [from, to) seconds; its values go
 * into `params` under names ending in `p`. The table's sorting key finds the agents' rows, its
 * token bloom filter the tokens'.
 */
function countsOfStretch(params: Record<string, unknown>, p: string, st: Stretch): string {
  params[`from${p}`] = st.from;
  params[`to${p}`] = st.to;
  params[`agents${p}`] = st.agents;
  params[`tokens${p}`] = st.tokens;
  return `(second >= toDateTime64({from${p}:Int64}, 0, 'UTC') AND second < toDateTime64({to${p}:Int64}, 0, 'UTC')
       AND (agent_id IN {agents${p}:Array(String)} OR token_id IN {tokens${p}:Array(String)}))`;
}

/** Distinct targets counted per bucket; more make the bucket's fan-out read as this many (as the live tally's). */
const MAX_TARGETS = 256;

/** One agent's uses of one token in one bucket, summed from `usage_counts`. */
interface PairCount {
  agent: string;
  token: string;
  bucket: string;
  requests: string;
  targets: string[];
  first_ms: string;
}

/** An agent's or a token's counts in one bucket, as kept in `usage_buckets`. */
interface EntityCount {
  kind: Kind;
  entity: string;
  bucket: number;
  requests: number;
  targets: number;
  top_token: string;
  top_agent: string;
  first_ms: number;
}

/**
 * The buckets of the given agents and tokens from their pairs' counts: requests summed,
 * targets united (at most {@link MAX_TARGETS}), the token an agent used most and the agent that
 * used a token most (ties: the first in text order), the earliest ingestion.
 */
export function entityCounts(pairs: readonly PairCount[], agents: ReadonlySet<string>, tokens: ReadonlySet<string>): EntityCount[] {
  const byKey = new Map<string, { c: EntityCount; targets: Set<string>; by: Map<string, number> }>();
  const add = (kind: Kind, entity: string, other: string, p: PairCount) => {
    const key = `${kind}|${entity}|${p.bucket}`;
    let e = byKey.get(key);
    if (!e) {
      e = {
        c: {
          kind,
          entity,
          bucket: Number(p.bucket),
          requests: 0,
          targets: 0,
          top_token: '',
          top_agent: '',
          first_ms: Number.POSITIVE_INFINITY,
        },
        targets: new Set(),
        by: new Map(),
      };
      byKey.set(key, e);
    }
    const n = Number(p.requests);
    e.c.requests += n;
    e.c.first_ms = Math.min(e.c.first_ms, Number(p.first_ms));
    for (const t of p.targets) if (e.targets.size < MAX_TARGETS) e.targets.add(t);
    e.by.set(other, (e.by.get(other) ?? 0) + n);
  };
  for (const p of pairs) {
    if (p.agent !== '' && agents.has(p.agent)) add('agent', p.agent, p.token, p);
    if (tokens.has(p.token)) add('token', p.token, p.agent, p);
  }
  return [...byKey.values()].map(({ c, targets, by }) => {
    let top = '';
    let most = -1;
    for (const [other, n] of by) if (n > most || (n === most && other < top)) [top, most] = [other, n];
    return {
      ...c,
      targets: targets.size,
      ...(c.kind === 'agent' ? { top_token: top, top_agent: c.entity } : { top_token: c.entity, top_agent: top }),
    };
  });
}

/**
 * Token uses of the stretch's agents and tokens in [from, to) seconds of event time, tagged with
 * entity and bucket; its values go into `params` under names ending in `p`. The `time` min-max
 * index of `spans` skips what lies outside the stretch, the agent and token bloom filters what
 * the entities never touched.
 */
function spansOfStretch(columns: string, params: Record<string, unknown>, p: string, st: Stretch): string {
  params[`from${p}`] = st.from;
  params[`to${p}`] = st.to;
  params[`agents${p}`] = st.agents;
  params[`tokens${p}`] = st.tokens;
  const range = `time >= toDateTime64({from${p}:Int64}, 9, 'UTC') AND time < toDateTime64({to${p}:Int64}, 9, 'UTC')`;
  return `SELECT 'agent' AS kind, agent_id AS entity, ${bucketOf} AS bucket, ${columns}
       FROM spans WHERE token_id != '' AND agent_id IN {agents${p}:Array(String)} AND ${range}
       UNION ALL
       SELECT 'token' AS kind, token_id AS entity, ${bucketOf} AS bucket, ${columns}
       FROM spans WHERE token_id IN {tokens${p}:Array(String)} AND ${range}`;
}

/** Most stretches one scheduled run reads apart; more are merged across their smallest gaps. */
const MAX_STRETCHES = 8;

/** A run of touched buckets, [from, to) seconds, and the entities that touched them. */
interface Stretch {
  from: number;
  to: number;
  agents: string[];
  tokens: string[];
}

/**
 * The touched buckets as stretches of adjacent buckets, each with the agents and tokens that
 * touched it; at most `max`, merging the stretches closest in time (their entities together).
 */
export function stretchesOf(
  touched: readonly { kind: Kind; entity: string; bucket: string | number }[],
  b: number,
  max: number,
): Stretch[] {
  const byBucket = new Map<number, { agents: Set<string>; tokens: Set<string> }>();
  for (const t of touched) {
    const at = Number(t.bucket);
    let e = byBucket.get(at);
    if (!e) {
      e = { agents: new Set(), tokens: new Set() };
      byBucket.set(at, e);
    }
    (t.kind === 'agent' ? e.agents : e.tokens).add(t.entity);
  }
  const buckets = [...byBucket.keys()].sort((x, y) => x - y);
  // Kept apart: the gaps between runs of adjacent buckets, and of those only the widest `max - 1`
  // (a sender's back-dated spans decide how many runs there are: one pass, not a merge per run).
  const gaps: number[] = [];
  for (let i = 1; i < buckets.length; i++) {
    if ((buckets[i] as number) > (buckets[i - 1] as number) + b) gaps.push(i);
  }
  const widest = new Set(
    gaps
      .map((i) => ({ i, width: (buckets[i] as number) - (buckets[i - 1] as number) }))
      .sort((x, y) => y.width - x.width || x.i - y.i)
      .slice(0, Math.max(1, max) - 1)
      .map((g) => g.i),
  );
  const runs: { from: number; to: number; agents: Set<string>; tokens: Set<string> }[] = [];
  buckets.forEach((at, i) => {
    const e = byBucket.get(at) as { agents: Set<string>; tokens: Set<string> };
    const last = runs[runs.length - 1];
    if (last && !widest.has(i)) {
      last.to = at + b;
      for (const a of e.agents) last.agents.add(a);
      for (const k of e.tokens) last.tokens.add(k);
    } else runs.push({ from: at, to: at + b, agents: new Set(e.agents), tokens: new Set(e.tokens) });
  });
  return runs.map((r) => ({ from: r.from, to: r.to, agents: [...r.agents], tokens: [...r.tokens] }));
}

function toBucket(r: Row): Bucket {
  return {
    kind: r.kind,
    entity: r.entity,
    bucket: Number(r.bucket),
    requests: Number(r.requests),
    targets: Number(r.targets),
    topToken: r.top_token,
    topAgent: r.top_agent,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
