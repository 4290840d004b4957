import { decodeLogsJson, decodeProtobufRequest, normalizeLogs, normalizeSpans, readTraceRequest } from '@intentwatch/collector';
import { describe, expect, it } from 'vitest';
import { auditLogRequests, cloudTrailExpiration, sessionKeyId } from './audit-logs.js';
import { detectionQuality, leastSquaresSlope, percentile, summarizeLatencies } from './stats.js';
import { DETECTOR_IDS, makeEpisode } from './episodes.js';
import { lifecycleRequests, makeFleet, useRequests } from './workload.js';

const NORMALIZE = { keepContextSpans: true, maxAttributes: 128, maxAttributeLength: 4096 };

describe('percentile', () => {
  it('returns a measured value by nearest rank', () => {
    expect(percentile([15, 20, 35, 40, 50], 40)).toBe(20);
    expect(percentile([15, 20, 35, 40, 50], 50)).toBe(35);
    expect(percentile([50, 15, 40, 20, 35], 100)).toBe(50);
    expect(percentile([7], 99)).toBe(7);
  });

  it('reads p99 of 1..100 as 99 and p0 as the minimum', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 0)).toBe(1);
  });

  it('cannot take a percentile of an empty list or outside 0–100', () => {
    expect(() => percentile([], 50)).toThrow(/at least one value/);
    expect(() => percentile([1], 101)).toThrow(/between 0 and 100/);
  });

  it('summarizes latencies as p50/p95/p99/max, or null when there are none', () => {
    expect(summarizeLatencies([])).toBeNull();
    const s = summarizeLatencies(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(s).toEqual({ count: 200, p50Ms: 100, p95Ms: 190, p99Ms: 198, maxMs: 200 });
  });
});

describe('leastSquaresSlope', () => {
  it('finds the slope of points on a line', () => {
    expect(leastSquaresSlope([0, 1, 2, 3].map((x) => ({ x, y: 2 * x + 1 })))).toBeCloseTo(2, 12);
  });

  it('reads a flat but noisy series as about zero', () => {
    const ys = [300, 302, 299, 301, 300, 298, 302, 300];
    expect(Math.abs(leastSquaresSlope(ys.map((y, x) => ({ x, y }))))).toBeLessThan(0.2);
  });

  it('cannot fit a line through fewer than two distinct x values', () => {
    expect(() => leastSquaresSlope([{ x: 1, y: 1 }])).toThrow(/two points/);
    expect(() =>
      leastSquaresSlope([
        { x: 1, y: 1 },
        { x: 1, y: 2 },
      ]),
    ).toThrow(/distinct/);
  });
});

describe('detectionQuality', () => {
  it('counts each injected violation found once, and every unmatched alert as a false positive', () => {
    const injected = [
      { detector: 'scope_creep', tokenId: 'a' },
      { detector: 'stale_token_use', tokenId: 'b' },
    ];
    const alerts = [
      { detector: 'scope_creep', tokenId: 'a' },
      { detector: 'scope_creep', tokenId: 'a' },
      { detector: 'scope_creep', tokenId: 'benign' },
    ];
    const q = detectionQuality(injected, alerts);
    expect(q.truePositives).toBe(1);
    expect(q.recall).toBe(0.5);
    expect(q.precision).toBeCloseTo(2 / 3, 12);
    expect(q.missed).toEqual([{ detector: 'stale_token_use', tokenId: 'b' }]);
    expect(q.falsePositives).toEqual([{ detector: 'scope_creep', tokenId: 'benign' }]);
  });
});

describe('benchmark workload', () => {
  const fleet = makeFleet({ prefix: 't', agents: 3, tokensPerAgent: 2, seed: 42 });

  it('encodes SDK-shaped requests of the requested size that the collector stores without loss', () => {
    const requests = useRequests(fleet, { requests: 2, spansPerRequest: 512, seed: 1, startMs: Date.UTC(2026, 0, 1) });
    expect(requests).toHaveLength(2);
    for (const r of requests) {
      expect(r.spans).toBe(512);
      const result = normalizeSpans(decodeProtobufRequest(r.body), NORMALIZE);
      expect(result.rejected).toEqual([]);
      expect(result.rows.spans).toHaveLength(512);
      // Three of every five spans are token uses of a granted token, on a service in its audience.
      const uses = result.rows.spans.filter((s) => s.token_id);
      expect(uses.length).toBeGreaterThan(300);
      const grants = new Map(fleet.flatMap((a) => a.grants).map((g) => [g.tokenId, g]));
      for (const u of uses) {
        const g = grants.get(u.token_id);
        expect(g).toBeDefined();
        expect(g!.audience).toContain(u.target);
        expect(g!.scopes).toEqual(expect.arrayContaining(u.scopes));
        expect(g!.tools).toContain(u.tool);
        expect(u.agent_id).toBe(g!.agentId);
        expect(u.environment).toBe('production');
      }
    }
  });

  it('builds the same requests from the same seed, so senders and the raw insert see identical rows', () => {
    const at = Date.UTC(2026, 0, 1);
    const a = useRequests(fleet, { requests: 1, spansPerRequest: 64, seed: 5, startMs: at });
    const b = useRequests(makeFleet({ prefix: 't', agents: 3, tokensPerAgent: 2, seed: 42 }), {
      requests: 1,
      spansPerRequest: 64,
      seed: 5,
      startMs: at,
    });
    expect(Buffer.from(a[0]!.body).equals(Buffer.from(b[0]!.body))).toBe(true);
  });

  it('grants every token of the fleet with an issued event and its task with a started event', () => {
    const bodies = lifecycleRequests(fleet, Date.UTC(2026, 0, 1), 3);
    const rows = bodies.map((b) => normalizeSpans(decodeProtobufRequest(b), NORMALIZE));
    const tokenEvents = rows.flatMap((r) => r.rows.tokenEvents);
    const taskEvents = rows.flatMap((r) => r.rows.taskEvents);
    expect(tokenEvents).toHaveLength(6);
    expect(taskEvents).toHaveLength(6);
    expect(new Set(tokenEvents.map((e) => e.token_id))).toEqual(new Set(fleet.flatMap((a) => a.grants.map((g) => g.tokenId))));
    expect(tokenEvents.every((e) => e.event === 'issued' && e.audience.length === 2 && e.expires_at !== null)).toBe(true);
  });
});

describe('injected violations', () => {
  const decode = (body: Uint8Array) => normalizeSpans(readTraceRequest(body), NORMALIZE).rows;

  it('builds, for every detector, requests the collector accepts whole', () => {
    const at = Date.UTC(2026, 0, 1, 12);
    for (const detector of DETECTOR_IDS) {
      const episode = makeEpisode(detector, 'test', 1, at);
      for (const body of [...episode.setup, episode.offending(at + 2000)]) {
        expect(normalizeSpans(readTraceRequest(body), NORMALIZE).rejected).toEqual([]);
      }
      expect(episode.tokenIds).toContain(episode.tokenId);
    }
  });

  it('breaks exactly the rule of its detector', () => {
    const at = Date.UTC(2026, 0, 1, 12);
    const episode = (d: (typeof DETECTOR_IDS)[number]) => makeEpisode(d, 'test', 2, at);
    const grantOf = (d: (typeof DETECTOR_IDS)[number]) =>
      episode(d)
        .setup.flatMap((b) => decode(b).tokenEvents)
        .find((e) => e.event === 'issued');

    const csr = decode(episode('cross_service_reuse').offending(at)).spans[0]!;
    const csrGrant = grantOf('cross_service_reuse')!;
    expect(csr.agent_id).not.toBe(csrGrant.agent_id);
    expect(csrGrant.audience).toContain(csr.target);
    expect(csrGrant.scopes).toEqual(expect.arrayContaining(csr.scopes));

    const sc = decode(episode('scope_creep').offending(at)).spans[0]!;
    const scGrant = grantOf('scope_creep')!;
    expect(sc.agent_id).toBe(scGrant.agent_id);
    expect(scGrant.audience).toContain(sc.target);
    expect(scGrant.scopes).not.toContain(sc.scopes[0]);

    const stale = episode('stale_token_use').setup.flatMap((b) => decode(b).tokenEvents);
    expect(stale.map((e) => e.event)).toEqual(['issued', 'revoked']);

    const res = episode('refresh_extended_session');
    expect(res.setup.flatMap((b) => decode(b).taskEvents).map((e) => e.event)).toEqual(['started', 'completed']);
    const refresh = decode(res.offending(at)).tokenEvents[0]!;
    expect(refresh).toMatchObject({ event: 'refreshed', parent_id: res.tokenId });
    expect(res.tokenIds).toContain(refresh.token_id);

    const ungoverned = episode('ungoverned_token');
    expect(ungoverned.setup).toEqual([]);
    expect(decode(ungoverned.offending(at)).spans[0]?.token_id).toBe(ungoverned.tokenId);

    // Fourteen minutes of history at six a minute, then a burst of 64 in one minute of event time.
    const ua = episode('usage_anomaly');
    const history = ua.setup.flatMap((b) => decode(b).spans);
    expect(history.length).toBe(84);
    const burst = decode(ua.offending(at + 30_000)).spans;
    expect(burst).toHaveLength(64);
    expect(new Set(burst.map((s) => s.time.slice(0, 16))).size).toBe(1);
  });
});

describe('audit-log workload (/v1/logs)', () => {
  const at = Date.UTC(2026, 11, 3, 7, 0, 0);
  const requests = auditLogRequests({ prefix: 'b', requests: 3, recordsPerRequest: 100, startMs: at });
  const mapped = requests.map((r) => normalizeLogs(decodeLogsJson(Buffer.from(r.body).toString('utf8')), NORMALIZE, at));

  it('writes an expiration the way CloudTrail does', () => {
    expect(cloudTrailExpiration(Date.UTC(2026, 11, 2, 10, 15, 0))).toBe('Dec 2, 2026, 10:15:00 AM');
    expect(cloudTrailExpiration(Date.UTC(2026, 0, 9, 0, 5, 7))).toBe('Jan 9, 2026, 12:05:07 AM');
    expect(cloudTrailExpiration(Date.UTC(2026, 6, 31, 12, 0, 0))).toBe('Jul 31, 2026, 12:00:00 PM');
    expect(cloudTrailExpiration(Date.UTC(2026, 6, 31, 23, 59, 59))).toBe('Jul 31, 2026, 11:59:59 PM');
  });

  it('gives every session an access key id of its own, of the shape STS issues', () => {
    const keys = Array.from({ length: 500 }, (_, i) => sessionKeyId('b', i));
    expect(new Set(keys).size).toBe(500);
    for (const k of keys) expect(k).toMatch(/^ASIA[0-9A-Z]{16}$/);
    expect(sessionKeyId('c', 0)).not.toBe(sessionKeyId('b', 0));
  });

  it('builds requests of the requested size whose every record the collector maps, none rejected', () => {
    expect(requests.map((r) => r.records)).toEqual([100, 100, 100]);
    for (const [i, result] of mapped.entries()) {
      expect(result.rejected).toEqual([]);
      expect(result.records).toBe(100);
      // The rows the harness expects are the rows the collector makes; the broker's own calls are skipped.
      expect(result.events).toBe(requests[i]!.rows);
      // `events` (the summary header the senders add up) counts exactly the rows stored.
      expect(result.rows.spans.length + result.rows.tokenEvents.length + result.rows.taskEvents.length).toBe(result.events);
      expect(result.events + Object.values(result.skipped).reduce((a, b) => a + b, 0)).toBe(100);
    }
  });

  it('grants each session before its uses, which stay inside the grant: scopes, resources, audience and expiry, all before the start', () => {
    const grants = new Map(mapped.flatMap((m) => m.rows.tokenEvents).map((g) => [g.token_id, g]));
    const uses = mapped.flatMap((m) => m.rows.spans);
    expect(grants.size).toBe(10);
    // 300 records: nine whole sessions of 32 (grant, 30 uses, one skipped call), then a grant and 11 uses.
    expect(uses).toHaveLength(9 * 30 + 11);
    for (const u of uses) {
      const g = grants.get(u.token_id);
      expect(g).toBeDefined();
      expect(g!.event).toBe('issued');
      expect(g!.agent_id).toBe(u.agent_id);
      expect(g!.audience).toContain(u.target);
      expect(g!.scopes).toEqual(expect.arrayContaining(u.scopes));
      expect(u.resource).toMatch(/^arn:aws:s3:::quarterly-reports\/2026\//);
      expect(Date.parse(g!.time)).toBeLessThan(Date.parse(u.time));
      expect(Date.parse(u.time)).toBeLessThanOrEqual(at);
      // The expiration CloudTrail writes is read back to the second: an hour after the grant.
      expect(Date.parse(g!.expires_at!) - Date.parse(g!.time)).toBe(3_600_000);
    }
    // Every record has an event ID of its own: no two uses are the same row.
    expect(new Set(uses.map((u) => u.span_id)).size).toBe(uses.length);
  });
});
