import { gauge } from '@intentwatch/core';
import type { AlertStore } from '@intentwatch/alerts';
import type { SuppressionView } from './views/suppression-view.js';

const alertsGauge = gauge(
  'intentwatch_alerts',
  'Alerts by detector, severity and triage status (status "suppressed": open alerts an active suppression mutes)',
  ['detector', 'severity', 'status'],
);
const queueDepth = gauge('intentwatch_triage_queue_depth', 'Open alerts waiting for an analyst (suppressed ones left out), by severity', [
  'severity',
]);
const suppressionsActive = gauge('intentwatch_suppressions_active', 'Suppressions in force');

/** Refreshing at most this often keeps a burst of scrapes from turning into a burst of queries. */
const MIN_INTERVAL_MS = 2000;

/**
 * The alert gauges of `/metrics`: counts read from the store when scraped (the alert tables are
 * the truth, and several processes may write them), no more than once per MIN_INTERVAL_MS.
 */
export class AlertMetrics {
  readonly #alerts: AlertStore;
  readonly #suppressions: SuppressionView;
  #last = 0;
  #pending: Promise<void> | undefined;

  constructor(alerts: AlertStore, suppressions: SuppressionView) {
    this.#alerts = alerts;
    this.#suppressions = suppressions;
  }

  refresh(): Promise<void> {
    if (this.#pending) return this.#pending;
    if (Date.now() - this.#last < MIN_INTERVAL_MS) return Promise.resolve();
    this.#pending = this.#read().finally(() => {
      this.#last = Date.now();
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #read(): Promise<void> {
    const active = await this.#suppressions.active();
    const counts = await this.#alerts.counts({ suppressions: active });
    alertsGauge.reset();
    queueDepth.reset();
    const depth = new Map<string, number>([
      ['low', 0],
      ['medium', 0],
      ['high', 0],
      ['critical', 0],
    ]);
    for (const c of counts) {
      alertsGauge.inc({ detector: c.detector, severity: c.severity, status: c.suppressed ? 'suppressed' : c.status }, c.count);
      if (c.status === 'open' && !c.suppressed) depth.set(c.severity, (depth.get(c.severity) ?? 0) + c.count);
    }
    for (const [severity, n] of depth) queueDepth.set({ severity }, n);
    suppressionsActive.set(active.length);
  }
}
