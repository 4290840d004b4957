import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import {
  type Agent,
  type Grant,
  encodeSpans,
  issuedSpan,
  makeAgent,
  makeGrant,
  randomHex,
  rng,
  SERVICES,
  taskEventSpan,
  tokenEventSpan,
  tokenIdFor,
  useSpan,
} from './workload.js';

/**
 * Injected violations: for each detector of docs/conventions.md §2, an episode on a token of its own
 * that breaks exactly one rule — so that an alert of that detector on that token is a hit, and
 * any other alert on it, or on the benign load, is a false positive. `setup` is sent ahead (the
 * grant, the task, history); `offending()` is built at the moment it is sent, so its times are
 * now, and the alert latency runs from that send.
 */

/** In injection order: ungoverned_token first, since its alert waits for the grace window. */
export const DETECTOR_IDS = [
  'ungoverned_token',
  'cross_service_reuse',
  'scope_creep',
  'stale_token_use',
  'refresh_extended_session',
  'usage_anomaly',
] as const;
export type DetectorId = (typeof DETECTOR_IDS)[number];

export interface Episode {
  detector: DetectorId;
  /** The token alerts are expected on (the session root for refresh episodes). */
  tokenId: string;
  /** Every token of the episode: an alert naming any of them (as token or root) belongs to it. */
  tokenIds: string[];
  /** Requests to send before the offending one (grant, task, history). */
  setup: Uint8Array[];
  /** The offending request, timed at `nowMs`. */
  offending(nowMs: number): Uint8Array;
}

/** Every service's host: the anomaly episode's grant names them all, so its burst is within its audience. */
const WIDE = SERVICES.map((s) => s.host);

function grantFor(random: () => number, agent: Agent, name: string, wide = false): Grant {
  const g = makeGrant(random, agent.agentId, name);
  if (wide) {
    g.services = SERVICES.map((_, i) => i);
    g.audience = [...WIDE];
    g.scopes = SERVICES.flatMap((s) => [...s.scopes]);
    g.tools = SERVICES.map((s) => s.tool);
  }
  agent.grants.push(g);
  return g;
}

function use(random: () => number, agent: Agent, g: Grant, atMs: number, overrides: Parameters<typeof useSpan>[6] = {}): ReadableSpan {
  return useSpan(random, agent, g, randomHex(random, 16), randomHex(random, 8), atMs, overrides);
}

/**
 * One episode of `detector`, number `n` of the run (ids are unique per `runId` and `n`). `nowMs`
 * is when the setup is sent; the offending request follows some seconds later.
 */
export function makeEpisode(detector: DetectorId, runId: string, n: number, nowMs: number): Episode {
  const random = rng(n * 7919 + detector.length);
  const name = `ep-${runId}-${detector}-${n}`;
  const agent = makeAgent(random, `agent-${name}`, 'production');
  switch (detector) {
    case 'cross_service_reuse': {
      // Another agent (and workload) presents the token, within its audience, scopes and plan.
      const g = grantFor(random, agent, name);
      return {
        detector,
        tokenId: g.tokenId,
        tokenIds: [g.tokenId],
        setup: [encodeSpans([taskEventSpan(random, g, 'started', nowMs - 60_000), issuedSpan(random, g, 'production', nowMs - 59_000)])],
        offending: (at) => encodeSpans([use(random, agent, g, at, { agentId: `${agent.agentId}-other` })]),
      };
    }
    case 'scope_creep': {
      // The grantee exercises a scope the token was not granted.
      const g = grantFor(random, agent, name);
      const service = SERVICES[g.services[0]!]!;
      return {
        detector,
        tokenId: g.tokenId,
        tokenIds: [g.tokenId],
        setup: [encodeSpans([taskEventSpan(random, g, 'started', nowMs - 60_000), issuedSpan(random, g, 'production', nowMs - 59_000)])],
        offending: (at) =>
          encodeSpans([use(random, agent, g, at, { target: { host: service.host, tool: service.tool, scope: 'admin:org' } })]),
      };
    }
    case 'stale_token_use': {
      // A use after the token was revoked.
      const g = grantFor(random, agent, name);
      return {
        detector,
        tokenId: g.tokenId,
        tokenIds: [g.tokenId],
        setup: [
          encodeSpans([
            taskEventSpan(random, g, 'started', nowMs - 60_000),
            issuedSpan(random, g, 'production', nowMs - 59_000),
            tokenEventSpan(random, g, 'revoked', nowMs - 20_000, { 'token.revoked_reason': 'bench: agent decommissioned' }),
          ]),
        ],
        offending: (at) => encodeSpans([use(random, agent, g, at)]),
      };
    }
    case 'refresh_extended_session': {
      // The session is refreshed after its task completed.
      const g = grantFor(random, agent, name);
      const childId = tokenIdFor(`${name}/refreshed`);
      return {
        detector,
        tokenId: g.tokenId,
        tokenIds: [g.tokenId, childId],
        setup: [
          encodeSpans([
            taskEventSpan(random, g, 'started', nowMs - 120_000),
            issuedSpan(random, g, 'production', nowMs - 119_000),
            taskEventSpan(random, g, 'completed', nowMs - 30_000),
          ]),
        ],
        offending: (at) =>
          encodeSpans([
            tokenEventSpan(random, g, 'refreshed', at, {
              'token.id': childId,
              'token.parent_id': g.tokenId,
              'workload.id': g.workloadId,
              'token.audience': g.audience,
              'token.scopes': g.scopes,
              'token.resources': g.resources,
              'token.expires_at': new Date(at + 3_600_000).toISOString(),
              'deployment.environment.name': 'production',
            }),
          ]),
      };
    }
    case 'ungoverned_token': {
      // A token no lifecycle event describes (alerts once the grace window has passed).
      const g = makeGrant(random, agent.agentId, name);
      return {
        detector,
        tokenId: g.tokenId,
        tokenIds: [g.tokenId],
        setup: [],
        offending: (at) => encodeSpans([use(random, agent, g, at)]),
      };
    }
    case 'usage_anomaly': {
      // Fourteen minutes of steady history (back-dated, so that the agent is past its warm-up),
      // then a burst at ten times the rate across every service the token may reach.
      const g = grantFor(random, agent, name, true);
      const history: ReadableSpan[] = [];
      const quiet = g.services.slice(0, 2);
      for (let t = nowMs - 16 * 60_000; t < nowMs - 2 * 60_000; t += 10_000) {
        const service = SERVICES[quiet[history.length % 2]!]!;
        history.push(use(random, agent, g, t, { target: { host: service.host, tool: service.tool, scope: service.scopes[0] } }));
      }
      return {
        detector,
        tokenId: g.tokenId,
        tokenIds: [g.tokenId],
        setup: [
          encodeSpans([taskEventSpan(random, g, 'started', nowMs - 17 * 60_000), issuedSpan(random, g, 'production', nowMs - 17 * 60_000)]),
          encodeSpans(history),
        ],
        offending: (at) => {
          // All of the burst in the current minute of event time, so that one bucket holds it.
          const from = Math.max(at - 20_000, Math.floor(at / 60_000) * 60_000);
          const burst: ReadableSpan[] = [];
          for (let i = 0; i < 64; i++) {
            const service = SERVICES[i % SERVICES.length]!;
            burst.push(
              use(random, agent, g, from + ((at - from) * i) / 64, {
                target: { host: service.host, tool: service.tool, scope: service.scopes[0] },
              }),
            );
          }
          return encodeSpans(burst);
        },
      };
    }
  }
}
