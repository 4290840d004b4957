import { InvalidInputError, NotFoundError } from '@intentwatch/core';
import type { DeliveryLog, RevocationStatus, RevocationView } from './delivery-log.js';
import type { Delivery } from './delivery.js';
import { type EndpointGuard, EndpointRefusedError } from './endpoint-guard.js';
import { type Policy, publicPolicy, redactUrl } from './policy.js';
import type { PolicyState, PolicyStore } from './policy-store.js';

/** A policy as the API shows it: no secret values, its state, and its requests by status. */
export interface PolicyView extends Policy {
  state: PolicyState;
  requests: Partial<Record<RevocationStatus, number>>;
}

/**
 * The policies as an admin manages them: views with their state and request counts, create or
 * replace (the endpoint checked first, DNS included), delete, resume, and the requests of an
 * alert. Throws NotFoundError for an unknown policy, InvalidInputError for a refused endpoint.
 */
export class PolicyService {
  readonly #policies: PolicyStore;
  readonly #deliveryLog: DeliveryLog;
  readonly #guard: EndpointGuard;
  readonly #delivery: Delivery;

  constructor(policies: PolicyStore, deliveryLog: DeliveryLog, guard: EndpointGuard, delivery: Delivery) {
    this.#policies = policies;
    this.#deliveryLog = deliveryLog;
    this.#guard = guard;
    this.#delivery = delivery;
  }

  /** Policies as the API shows them. */
  async policyViews(): Promise<PolicyView[]> {
    const counts = await this.#deliveryLog.counts();
    return this.#policies.list().map((p) => this.#view(p, counts));
  }

  async policyView(id: string): Promise<PolicyView> {
    const p = this.#policies.get(id);
    if (!p) throw new NotFoundError(`no policy with id ${id}`);
    return this.#view(p, await this.#deliveryLog.counts());
  }

  /** Creates or replaces an API policy after checking its endpoint (DNS included). */
  async putPolicy(input: unknown, actor: string): Promise<PolicyView> {
    const url = (input as { endpoint?: { url?: unknown } } | null)?.endpoint?.url;
    const notify = (input as { target?: unknown } | null)?.target === 'notify';
    // env:NAME and redacted notify URLs are checked where they resolve: at start and at every connection.
    if (typeof url === 'string' && /^https?:\/\//i.test(url) && !(notify && url.includes('/…'))) {
      try {
        await this.#guard.check(url);
      } catch (e) {
        if (e instanceof EndpointRefusedError) {
          throw new InvalidInputError('endpoint_refused', notify ? e.message.split(url).join(redactUrl(url)) : e.message);
        }
        throw e;
      }
    }
    const policy = await this.#policies.put(input, actor);
    return this.policyView(policy.id);
  }

  async deletePolicy(id: string, actor: string): Promise<void> {
    await this.#policies.delete(id, actor);
  }

  /**
   * Sets a paused or disabled policy active again. Held requests are queued again when
   * `release` is true (the rate limit still applies to them), discarded otherwise.
   */
  async resume(id: string, actor: string, release: boolean): Promise<{ policy: PolicyView; released: number; discarded: number }> {
    if (!this.#policies.get(id)) throw new NotFoundError(`no policy with id ${id}`);
    await this.#policies.setState(id, 'active', '', actor);
    const held = await this.#deliveryLog.withStatus(id, 'held');
    await this.#delivery.releaseHeld(held, release, actor);
    return { policy: await this.policyView(id), released: release ? held.length : 0, discarded: release ? 0 : held.length };
  }

  /** The revoke requests of an alert, each with its attempts. */
  deliveries(alertId: string): Promise<RevocationView[]> {
    return this.#deliveryLog.forAlert(alertId);
  }

  #view(p: Policy, counts: { policyId: string; status: RevocationStatus; count: number }[]): PolicyView {
    const requests: Partial<Record<RevocationStatus, number>> = {};
    for (const c of counts) if (c.policyId === p.id) requests[c.status] = c.count;
    return { ...publicPolicy(p), state: this.#policies.state(p.id), requests };
  }
}
