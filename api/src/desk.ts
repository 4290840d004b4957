import type { Store } from '@intentwatch/core';
import { AlertStore, SuppressionStore } from '@intentwatch/alerts';
import type { Router } from 'express';
import { AlertMetrics } from './alert-metrics.js';
import { agentsRouter } from './routes/agents.js';
import { alertsRouter } from './routes/alerts.js';
import { meRouter } from './routes/me.js';
import { suppressionsRouter } from './routes/suppressions.js';
import { tokensRouter } from './routes/tokens.js';
import { AgentView } from './views/agent-view.js';
import { AlertView } from './views/alert-view.js';
import { SuppressionView } from './views/suppression-view.js';
import { TokenView } from './views/token-view.js';

export interface DeskOptions {
  /** The alert store to read and triage (default: one over `store`). */
  alerts?: AlertStore;
  /** Session limit for sessions whose grants name none (`INTENTWATCH_DEFAULT_MAX_SESSION_S`). */
  defaultMaxSessionS?: number;
}

/**
 * The analyst's desk: the read models (alerts, tokens, agents, suppressions) over one store and
 * the routers that serve them. `Api` mounts `routers()`; `refreshMetrics` keeps the alert
 * gauges of `/metrics` current.
 */
export class Desk {
  readonly store: Store;
  readonly alerts: AlertStore;
  readonly suppressions: SuppressionView;
  readonly alertView: AlertView;
  readonly tokenView: TokenView;
  readonly agentView: AgentView;
  readonly #metrics: AlertMetrics;

  constructor(store: Store, options: DeskOptions = {}) {
    this.store = store;
    this.alerts = options.alerts ?? new AlertStore(store);
    this.suppressions = new SuppressionView(new SuppressionStore(store));
    this.tokenView = new TokenView(
      store,
      this.alerts,
      this.suppressions,
      options.defaultMaxSessionS === undefined ? {} : { defaultMaxSessionS: options.defaultMaxSessionS },
    );
    this.alertView = new AlertView(store, this.alerts, this.suppressions, this.tokenView);
    this.agentView = new AgentView(store, this.alerts, this.suppressions);
    this.#metrics = new AlertMetrics(this.alerts, this.suppressions);
  }

  routers(): Router[] {
    return [meRouter(), alertsRouter(this), tokensRouter(this), agentsRouter(this), suppressionsRouter(this)];
  }

  /** Brings the alert gauges up to date (called before each scrape of `/metrics`). */
  refreshMetrics(): Promise<void> {
    return this.#metrics.refresh();
  }
}
