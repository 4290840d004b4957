import { type Alert, type Suppression, type SuppressionStore, suppressionMatches } from '@intentwatch/alerts';
import type { AlertOut, SuppressionOut } from '../contract/schemas.js';

/** Suppressions as the API shows them, and alerts with the suppression that mutes them. */
export class SuppressionView {
  readonly store: SuppressionStore;

  constructor(store: SuppressionStore) {
    this.store = store;
  }

  active(now = Date.now()): Promise<Suppression[]> {
    return this.store.active(now);
  }

  /** A suppression with whether it is in force at `now`. */
  out(s: Suppression, now = Date.now()): SuppressionOut {
    return { ...s, active: s.deletedAt === null && Date.parse(s.expiresAt) > now };
  }

  /**
   * `alerts` with `suppression` set on each open alert an active suppression mutes — the same
   * rule the alert listing applies in SQL to keep them out of the open queue.
   */
  async decorate(alerts: readonly Alert[], active?: readonly Suppression[]): Promise<AlertOut[]> {
    if (alerts.length === 0) return [];
    const now = Date.now();
    const list = active ?? (await this.active(now));
    return alerts.map((a) => {
      const s = a.status === 'open' ? list.find((x) => suppressionMatches(x, a)) : undefined;
      return { ...a, suppression: s ? this.out(s, now) : null };
    });
  }
}
