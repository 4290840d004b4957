import { createHash } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks headers for one attempt: `webhook-id` (the same on every retry),
 * `webhook-timestamp` (this attempt, so that a receiver's freshness window accepts a late retry)
 * and `webhook-signature` — `v1,<base64 HMAC-SHA256 of id.timestamp.body>` for each secret,
 * space-separated, so that a receiver holding either secret accepts it while secrets rotate.
 */
export function signedHeaders(webhookId: string, body: string, secrets: readonly string[], at = new Date()): Record<string, string> {
  if (secrets.length === 0) throw new Error('signing requires at least one secret');
  const signature = secrets.map((s) => new Webhook(s).sign(webhookId, at, body)).join(' ');
  return {
    'content-type': 'application/json',
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
}

/**
 * The `webhook-id` of a revoke request: derived from the policy, the dedup key and how many
 * requests for that key came before, so that the same request always gets the same id — across
 * retries, restarts and workers — and a receiver can de-duplicate on it.
 */
export function webhookId(policyId: string, dedupKey: string, generation: number): string {
  const h = createHash('sha256').update(`${policyId}\u0000${dedupKey}\u0000${generation}`, 'utf8').digest('hex');
  return `msg_${h.slice(0, 32)}`;
}
