/** Longest `Retry-After` honoured: a broker asking for a day must not park a revoke for a day. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Wait before the attempt after `attempt` (1-based) failed: exponential from `baseDelayMs`,
 * capped at `maxDelayMs`, with "equal jitter" — between half and all of the exponential value —
 * so that retries of many deliveries spread out without ever retrying immediately.
 *
 * backoffDelay(1, { baseDelayMs: 500, maxDelayMs: 60_000 }) is between 250 and 500;
 * backoffDelay(4, …) between 2000 and 4000.
 */
export function backoffDelay(attempt: number, options: { baseDelayMs: number; maxDelayMs: number }, random = Math.random): number {
  const exp = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/**
 * A `Retry-After` header in milliseconds from `now`: delay-seconds or an HTTP date. Undefined
 * when absent or malformed; capped at {@link MAX_RETRY_AFTER_MS}.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (!Number.isFinite(at)) return undefined;
    ms = at - now;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/** The wait before the next attempt: the backoff, or longer when the receiver asked for it. */
export function nextDelay(attempt: number, options: { baseDelayMs: number; maxDelayMs: number }, retryAfterMs?: number): number {
  return Math.max(backoffDelay(attempt, options), retryAfterMs ?? 0);
}
