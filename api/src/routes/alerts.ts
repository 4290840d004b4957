import { HttpError, redactText } from '@intentwatch/core';
import { ALERT_STATUSES, type AlertFilter, SEVERITIES } from '@intentwatch/alerts';
import { Router } from 'express';
import type { z } from 'zod';
import type { AlertListQuery, AlertSummaryOut, AlertSummaryQuery } from '../contract/schemas.js';
import { routes } from '../contract/routes.js';
import type { Desk } from '../desk.js';
import { bind } from '../route.js';

/**
 * Alerts (docs/conventions.md §2.2): the queue with filters, sorting and a cursor; counts; one alert
 * with its evidence resolved; triage by PATCH (analyst), every change in the audit trail.
 */
export function alertsRouter(desk: Desk): Router {
  const router = Router();

  bind(router, routes.listAlerts, async ({ query }) => {
    const active = await desk.suppressions.active();
    const page = await desk.alerts.list({ ...filterOf(query), suppressions: active });
    return { alerts: await desk.suppressions.decorate(page.alerts, active), nextCursor: page.nextCursor };
  });

  // Before /:id, which would take "summary" for an id.
  bind(router, routes.alertSummary, async ({ query }) => {
    const counts = await desk.alerts.counts({ ...filterOf(query), suppressions: await desk.suppressions.active() });
    const summary: AlertSummaryOut = {
      total: 0,
      byStatus: Object.fromEntries(ALERT_STATUSES.map((s) => [s, 0])) as AlertSummaryOut['byStatus'],
      suppressed: 0,
      openBySeverity: Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as AlertSummaryOut['openBySeverity'],
      openByDetector: {},
    };
    for (const c of counts) {
      summary.total += c.count;
      if (c.suppressed) {
        summary.suppressed += c.count;
        continue;
      }
      summary.byStatus[c.status] += c.count;
      if (c.status === 'open') {
        summary.openBySeverity[c.severity] += c.count;
        summary.openByDetector[c.detector] = (summary.openByDetector[c.detector] ?? 0) + c.count;
      }
    }
    return summary;
  });

  bind(router, routes.getAlert, async ({ params }) => {
    const alert = await desk.alertView.detail(params.id);
    if (!alert) throw new HttpError(404, 'not_found', `no alert with id ${params.id}`);
    return alert;
  });

  bind(router, routes.triageAlert, async ({ params, body, identity }) => {
    const change = {
      ...(body.status !== undefined ? { status: body.status } : {}),
      ...(body.assignee !== undefined ? { assignee: body.assignee } : {}),
      // A note is free text an analyst may paste a credential into: stored with it fingerprinted.
      ...(body.note !== undefined ? { note: redactText(body.note).text } : {}),
    };
    const alert = await desk.alerts.updateTriage(params.id, change, identity.name);
    const [decorated] = await desk.suppressions.decorate([alert]);
    return decorated;
  });

  return router;
}

function filterOf(query: z.output<typeof AlertListQuery> | z.output<typeof AlertSummaryQuery>): AlertFilter {
  const filter: AlertFilter = {};
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== '') (filter as Record<string, unknown>)[k] = v;
  }
  return filter;
}
