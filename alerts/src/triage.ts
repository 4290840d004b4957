import { randomUUID } from 'node:crypto';
import { type AlertEventRow, NotFoundError, type Store, nextVersion } from '@intentwatch/core';
import type { Alert, AlertStatus } from './model.js';

export interface TriageChange {
  status?: AlertStatus;
  /** An assignee, or null to unassign. */
  assignee?: string | null;
  note?: string;
}

/**
 * Triage: what people decide about an alert (status, assignee, notes). It only ever writes
 * triage rows (`alert_triage`) and their audit trail (`alert_events`).
 */
export class AlertTriage {
  readonly #store: Store;
  readonly #get: (id: string) => Promise<Alert | undefined>;

  /** `get` reads an alert as the API shows it. */
  constructor(store: Store, get: (id: string) => Promise<Alert | undefined>) {
    this.#store = store;
    this.#get = get;
  }

  /**
   * Applies an analyst's triage change and records it in the audit trail; returns the alert
   * as it now reads. Throws a NotFoundError when the alert does not exist.
   */
  async update(id: string, change: TriageChange, actor: string): Promise<Alert> {
    const current = await this.#get(id);
    if (!current) throw new NotFoundError(`no alert with id ${id}`);
    const now = Date.now();
    const events: AlertEventRow[] = [];
    const status = change.status ?? current.status;
    const assignee = change.assignee === undefined ? (current.assignee ?? '') : (change.assignee ?? '');
    if (status !== current.status || assignee !== (current.assignee ?? '')) {
      await this.#store.insert('alert_triage', [
        { alert_id: id, status, assignee, updated_by: actor, updated_at: new Date(now).toISOString(), version: nextVersion() },
      ]);
    }
    const event = (action: string, detail: string, from = '', to = '') => ({
      alert_id: id,
      // Time-ordered, so that several actions of one request read back in the order taken.
      event_id: `${nextVersion()}-${randomUUID()}`,
      time: new Date(now).toISOString(),
      actor,
      action,
      from_status: from,
      to_status: to,
      detail,
    });
    if (status !== current.status) events.push(event('status', `status ${current.status} → ${status}`, current.status, status));
    if (assignee !== (current.assignee ?? '')) events.push(event('assigned', assignee ? `assigned to ${assignee}` : 'unassigned'));
    if (change.note?.trim()) events.push(event('note', change.note.trim()));
    await this.#store.insert('alert_events', events);
    return (await this.#get(id)) as Alert;
  }
}
