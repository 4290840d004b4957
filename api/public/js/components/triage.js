import { ApiError, api } from '../api.js';
import { h, toast } from '../dom.js';

/** Status changes the action keys make. */
export const ACTIONS = {
  a: { status: 'acknowledged', label: 'Acknowledge', done: 'Acknowledged' },
  r: { status: 'resolved', label: 'Resolve', done: 'Resolved' },
  f: { status: 'false_positive', label: 'False positive', done: 'Marked as false positive' },
  o: { status: 'open', label: 'Reopen', done: 'Reopened' },
};

/** @param {{ role: string } | null} me */
export function canTriage(me) {
  return me !== null && me.role !== 'viewer';
}

export function denyTriage() {
  toast('This key has the viewer role: it can read alerts, not triage them.', 'error');
}

/**
 * Sends a triage change and reports the outcome; resolves to the alert as it now reads, or
 * null when the API refused (the reason is shown).
 *
 * @param {string} id
 * @param {{ status?: string, assignee?: string | null, note?: string }} change
 * @param {string} [done] what to say when it worked
 */
export async function triage(id, change, done) {
  try {
    const alert = await api.triage(id, change);
    if (done) toast(done, 'ok');
    return alert;
  } catch (e) {
    toast(e instanceof ApiError ? `${e.status === 403 ? 'Not allowed: ' : ''}${e.message}` : String(e), 'error');
    return null;
  }
}

/** A "k" key hint inside a button. @param {string} k */
export function kbd(k) {
  return h('kbd', { class: 'kbd-hint' }, k);
}
