/**
 * DOM building and formatting. Every piece of data reaches the page as text (textContent or an
 * attribute value), never as markup.
 */

/**
 * @param {string} tag
 * @param {Record<string, unknown> | null} [attrs]
 * @param {...unknown} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else if (k === 'value') /** @type {HTMLInputElement} */ (el).value = String(v);
    else if (k === 'checked') /** @type {HTMLInputElement} */ (el).checked = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * @param {string} tag
 * @param {Record<string, string | number | undefined | null>} [attrs]
 * @param {...(Node | string)} children
 */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

/** @param {Element} el @param {unknown[]} children */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** @param {Element} el @param {...unknown} children */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** @param {string | null | undefined} t */
export function ms(t) {
  return t ? Date.parse(t) : Number.NaN;
}

const pad = (n) => String(n).padStart(2, '0');

/** Local time: "14:03:12" today, "25 Nov 14:03" otherwise. @param {string | null | undefined} t */
export function time(t) {
  const v = ms(t);
  if (!Number.isFinite(v)) return '—';
  const d = new Date(v);
  const now = new Date();
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === now.toDateString()) return hms;
  return `${d.getDate()} ${d.toLocaleString('en', { month: 'short' })} ${d.getFullYear() !== now.getFullYear() ? `${d.getFullYear()} ` : ''}${hms.slice(0, 5)}`;
}

/** Full local date and time with milliseconds, for titles. @param {string | null | undefined} t */
export function fullTime(t) {
  const v = ms(t);
  if (!Number.isFinite(v)) return '';
  const d = new Date(v);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')} (${t})`;
}

/** "42s", "5m", "3h", "2d" since `t`. @param {string | null | undefined} t */
export function age(t, now = Date.now()) {
  const v = ms(t);
  if (!Number.isFinite(v)) return '—';
  return duration(Math.max(0, now - v));
}

/** @param {number} d milliseconds */
export function duration(d) {
  const s = Math.round(d / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr}h${m % 60 ? ` ${m % 60}m` : ''}`;
  return `${Math.floor(hr / 24)}d`;
}

/** A time element with the full time as its title. @param {string | null | undefined} t */
export function when(t, { relative = false } = {}) {
  return h('time', { datetime: t ?? undefined, title: fullTime(t) }, relative ? age(t) : time(t));
}

export const SEVERITIES = ['critical', 'high', 'medium', 'low'];
export const STATUSES = ['open', 'acknowledged', 'resolved', 'false_positive'];
export const DETECTORS = [
  'cross_service_reuse',
  'refresh_extended_session',
  'scope_creep',
  'stale_token_use',
  'ungoverned_token',
  'usage_anomaly',
];

/** @param {string} severity */
export function severityBadge(severity) {
  return h('span', { class: `sev sev-${severity}`, title: `severity ${severity}` }, severity);
}

/** @param {string} status */
export function statusBadge(status, suppressed = false) {
  if (suppressed) return h('span', { class: 'status status-suppressed', title: 'muted by an active suppression' }, 'suppressed');
  return h('span', { class: `status status-${status}` }, status.replace('_', ' '));
}

/** @param {string} detector */
export function detectorLabel(detector) {
  return detector.replaceAll('_', ' ');
}

/** A token id as a link to its page. @param {string} id */
export function tokenLink(id, attrs = {}) {
  if (!id) return h('span', { class: 'muted' }, '—');
  return h('a', { class: 'mono link', href: `#/tokens/${encodeURIComponent(id)}`, title: id, ...attrs }, id);
}

/** @param {string} id */
export function agentLink(id) {
  if (!id) return h('span', { class: 'muted' }, '—');
  return h('a', { class: 'link', href: `#/agents/${encodeURIComponent(id)}`, title: id }, id);
}

/** @param {string} label @param {unknown} value */
export function field(label, value) {
  return [
    h('dt', null, label),
    h('dd', null, value === '' || value === null || value === undefined ? h('span', { class: 'muted' }, '—') : value),
  ];
}

/** @param {string} text @param {string} [cls] */
export function chip(text, cls = '') {
  return h('span', { class: `chip ${cls}`.trim(), title: text }, text);
}

export function empty(text) {
  return h('div', { class: 'empty' }, text);
}

/** @param {string} title @param {...unknown} body */
export function panel(title, ...body) {
  // Tables run edge to edge; everything else sits in a padded body.
  const flush = body.length === 1 && body[0] instanceof HTMLTableElement;
  return h(
    'section',
    { class: 'panel' },
    h('h2', { class: 'panel-title' }, title),
    flush ? body[0] : h('div', { class: 'panel-body' }, ...body),
  );
}

/** A toast at the bottom right. @param {string} text @param {'ok' | 'error' | 'info'} [kind] */
export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: `toast toast-${kind}` }, text);
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 6000 : 3000);
}
