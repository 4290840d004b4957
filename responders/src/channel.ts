import type { AlertStore } from '@intentwatch/alerts';
import type { AlertSnapshot } from './alert-reader.js';
import type { DeliveryLog } from './delivery-log.js';
import type { DeliveryJob, DeliveryQueue, JobOutcome, Revocation } from './delivery-queue.js';
import type { EndpointGuard } from './endpoint-guard.js';
import type { Policy } from './policy.js';
import type { PolicyStore } from './policy-store.js';
import type { RateLimiter } from './rate-limiter.js';

/** What the responder shares with a channel: one queue, one audit trail, one limiter, one endpoint guard. */
export interface ChannelContext {
  queue: DeliveryQueue;
  deliveryLog: DeliveryLog;
  limiter: RateLimiter;
  guard: EndpointGuard;
  alerts: AlertStore;
  /** The policies in force (file, API, environment), re-read by the responder. */
  policies: PolicyStore;
  /** A notify policy's incoming-webhook URL (env reference read, encryption opened); throws when it does not resolve. */
  resolveUrl(policy: Policy): string;
  /** True where jobs added to `queue` run (the responder was started here, or the queue is BullMQ). */
  runsJobs(): boolean;
}

/**
 * Another way of acting on alerts besides revoke webhooks (e.g. Shared Signals streams). The
 * responder reads changed alerts once and hands them to every channel, routes the jobs a channel
 * owns to it, and tells it of every revoke request made: so a channel shares the responder's
 * queue (retries, restarts, BullMQ), audit trail (`revocations`, `deliveries`), rate limiter,
 * endpoint guard and suppressions instead of keeping its own.
 */
export interface ResponderChannel {
  /** Called once, when the responder is built. */
  attach(context: ChannelContext): void;
  /** True for jobs this channel made (and delivers). */
  owns(job: DeliveryJob): boolean;
  /** One attempt of one of its jobs, as the queue's handler. */
  deliver(job: DeliveryJob): Promise<JobOutcome>;
  /** Open or acknowledged alerts whose detection changed, that no active suppression mutes. */
  onAlerts(snapshots: AlertSnapshot[], now: number): Promise<void>;
  /** Revoke requests just made (by a policy or an analyst), with the status each got. */
  onRevocations(revocations: { revocation: Revocation; status: string }[], now: number): Promise<void>;
  /** Every look of the responder for changed alerts, for work of the channel's own on a clock. */
  onTick?(now: number): Promise<void>;
  /**
   * The longest `onTick` may wait between two calls. Where the store sees every write the
   * responder looks only on writes and on a slow safety poll; a channel whose clock runs faster
   * says so here. Unset: the looks set the pace.
   */
  readonly tickEveryMs?: number | undefined;
}
