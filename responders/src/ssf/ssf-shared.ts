import { counter } from '@intentwatch/core';
import type { ChannelContext } from '../channel.js';
import type { AttemptRecord, RevocationState } from '../delivery-log.js';
import type { Revocation } from '../delivery-queue.js';
import { SSF_EVENTS_SUPPORTED } from './ssf-events.js';
import type { StreamRecord, StreamStatus } from './stream-store.js';

/** The policy id of a stream's SETs in the responder's audit trail: `ssf:<stream_id>`. */
export const POLICY_PREFIX = 'ssf:';
/** How long a claim to make or release a SET stands: far longer than saving its row takes. */
export const CLAIM_TTL_MS = 60_000;

export const setsTotal = counter(
  'intentwatch_ssf_sets_total',
  'Security Event Tokens made and their final outcomes, by event type and outcome',
  ['event', 'outcome'],
);

/** Records one attempt of one SET in the audit trail. */
export async function recordAttempt(
  ctx: ChannelContext,
  r: Revocation,
  attempt: number,
  a: Pick<AttemptRecord, 'status' | 'httpStatus' | 'latencyMs' | 'error' | 'nextAttemptAt'>,
  endpoint: string,
): Promise<void> {
  await ctx.deliveryLog.recordAttempt({
    ...a,
    webhookId: r.webhookId,
    alertId: r.alertId,
    policyId: r.policyId,
    dryRun: r.dryRun,
    endpoint,
    attempt,
  });
}

/**
 * The dedup key of a stream-updated event, named by the change (from which status, since when,
 * to which): processes that make the same change at once (an admin on two API replicas, the rate
 * limit tripping in two workers, an inactivity pause seen by both) tell the receiver once.
 */
export function changeKey(s: StreamRecord, to: StreamStatus): string {
  return `updated:${s.status}@${s.statusSince ?? s.createdAt}:${to}`;
}

/** SSF 1.0 §8.1.1 `events_delivered`: the requested types this transmitter supports. */
export function delivered(s: StreamRecord): string[] {
  return SSF_EVENTS_SUPPORTED.filter((t) => s.eventsRequested.includes(t));
}

export function eventOf(r: Revocation): string {
  return r.dedupKey.split(':')[0] ?? 'other';
}

export function describe(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

export function stripState(r: Revocation & Partial<RevocationState>): Revocation {
  const { status: _s, attempts: _a, lastError: _l, updatedAt: _u, ...rest } = r;
  return rest;
}

export function stripJob(j: Revocation & { attempt?: number }): Revocation {
  const { attempt: _attempt, ...rest } = j;
  return rest;
}
