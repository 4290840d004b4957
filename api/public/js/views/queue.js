import { api } from '../api.js';
import { ACTIONS, canTriage, denyTriage, triage } from '../components/triage.js';
import { rememberQueue } from './queue-link.js';
import {
  DETECTORS,
  SEVERITIES,
  age,
  agentLink,
  detectorLabel,
  empty,
  fullTime,
  h,
  replace,
  severityBadge,
  statusBadge,
  time,
  tokenLink,
} from '../dom.js';

const TABS = [
  { id: 'open', label: 'Open', params: { status: 'open' } },
  { id: 'acknowledged', label: 'Acknowledged', params: { status: 'acknowledged' } },
  { id: 'active', label: 'Open + ack', params: { status: 'open,acknowledged' } },
  { id: 'resolved', label: 'Resolved', params: { status: 'resolved' } },
  { id: 'false_positive', label: 'False positive', params: { status: 'false_positive' } },
  { id: 'suppressed', label: 'Suppressed', params: { suppressed: 'only' } },
  { id: 'all', label: 'All', params: { suppressed: 'include' } },
];
const SORTS = [
  ['lastSeen', 'Last seen'],
  ['severity', 'Severity'],
  ['count', 'Count'],
  ['firstSeen', 'First seen'],
];
const REFRESH_MS = 10_000;
const PAGE = 50;

/**
 * The alert queue: what needs an analyst now. Tabs by triage state with counts, filters
 * (severity, detector, text, and token/agent/target from links), sorting, a cursor for more,
 * live refresh, and the keyboard (j/k, Enter, a/r/f, /).
 */
export async function render(ctx) {
  const q = ctx.query;
  const state = {
    tab: TABS.some((t) => t.id === q.get('tab')) ? q.get('tab') : 'open',
    severity: (q.get('severity') ?? '').split(',').filter((s) => SEVERITIES.includes(s)),
    detector: q.get('detector') ?? '',
    q: q.get('q') ?? '',
    sort: SORTS.some(([s]) => s === q.get('sort')) ? q.get('sort') : 'lastSeen',
    order: q.get('order') === 'asc' ? 'asc' : 'desc',
    agentId: q.get('agentId') ?? '',
    tokenId: q.get('tokenId') ?? '',
    target: q.get('target') ?? '',
    environment: q.get('environment') ?? '',
  };
  /** @type {any[]} */
  let alerts = [];
  let nextCursor = null;
  let selected = 0;
  let paused = false;
  let refreshing = false;
  let lastUpdate = 0;
  const mayTriage = canTriage(ctx.me);

  const filters = () => ({
    severity: state.severity.join(','),
    detector: state.detector,
    q: state.q,
    agentId: state.agentId,
    tokenId: state.tokenId,
    target: state.target,
    environment: state.environment,
  });
  const listParams = (extra = {}) => ({
    ...filters(),
    ...(TABS.find((t) => t.id === state.tab)?.params ?? {}),
    sort: state.sort === 'lastSeen' ? undefined : state.sort,
    order: state.order === 'desc' ? undefined : state.order,
    ...extra,
  });
  const saveQuery = () => {
    const u = new URLSearchParams();
    if (state.tab !== 'open') u.set('tab', state.tab);
    for (const [k, v] of Object.entries(filters())) if (v) u.set(k, v);
    if (state.sort !== 'lastSeen') u.set('sort', state.sort);
    if (state.order !== 'desc') u.set('order', state.order);
    ctx.setQuery(u);
    rememberQueue(u);
  };

  // ── layout ────────────────────────────────────────────────────────────────────────────
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const search = h('input', {
    type: 'search',
    class: 'input search',
    placeholder: 'Search reason, token, agent, task, target…  ( / )',
    value: state.q,
    'aria-label': 'Search alerts',
  });
  const detectorSelect = h(
    'select',
    { class: 'input', 'aria-label': 'Detector' },
    h('option', { value: '' }, 'All detectors'),
    DETECTORS.map((d) => h('option', { value: d, selected: d === state.detector }, detectorLabel(d))),
  );
  const sevChips = h(
    'div',
    { class: 'sev-filter', role: 'group', 'aria-label': 'Severity' },
    SEVERITIES.map((s) =>
      h(
        'button',
        {
          type: 'button',
          class: `chip-toggle sev-toggle sev-${s}`,
          'aria-pressed': String(state.severity.includes(s)),
          dataset: { severity: s },
          onclick: () => {
            state.severity = state.severity.includes(s) ? state.severity.filter((x) => x !== s) : [...state.severity, s];
            reload();
          },
        },
        s,
      ),
    ),
  );
  const sortSelect = h(
    'select',
    { class: 'input', 'aria-label': 'Sort by' },
    SORTS.map(([v, label]) => h('option', { value: v, selected: v === state.sort }, label)),
  );
  const orderButton = h('button', { type: 'button', class: 'btn btn-ghost', title: 'Sort order' }, state.order === 'desc' ? '↓' : '↑');
  const pauseButton = h('button', { type: 'button', class: 'btn btn-ghost', title: 'Pause live refresh' }, 'Pause');
  const scopeBar = h('div', { class: 'scope-bar' });
  const tableBody = h('tbody');
  const table = h(
    'table',
    { class: 'grid queue', 'aria-label': 'Alerts' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { class: 'c-sev' }, 'Severity'),
        h('th', { class: 'c-det' }, 'Detector'),
        h('th', { class: 'c-reason' }, 'Reason'),
        h('th', { class: 'c-token' }, 'Token'),
        h('th', { class: 'c-agent' }, 'Agent'),
        h('th', { class: 'c-target' }, 'Target'),
        h('th', { class: 'c-age', title: 'Since last seen' }, 'Age'),
        h('th', { class: 'c-count num', title: 'Pieces of evidence' }, '#'),
        h('th', { class: 'c-status' }, 'Status'),
        h('th', { class: 'c-assignee' }, 'Assignee'),
      ),
    ),
    tableBody,
  );
  const more = h('div', { class: 'more' });
  const footer = h(
    'div',
    { class: 'queue-footer muted' },
    mayTriage
      ? 'j/k move · Enter open · a acknowledge · r resolve · f false positive · / search · ? help'
      : 'j/k move · Enter open · / search · ? help — viewer key: read only',
  );

  replace(
    ctx.root,
    h(
      'div',
      { class: 'page queue-page' },
      h('div', { class: 'queue-head' }, tabs),
      h(
        'div',
        { class: 'toolbar' },
        search,
        sevChips,
        detectorSelect,
        h('label', { class: 'toolbar-label' }, 'Sort ', sortSelect),
        orderButton,
        h('span', { class: 'spacer' }),
        pauseButton,
      ),
      scopeBar,
      h('div', { class: 'grid-wrap' }, table),
      more,
      footer,
    ),
  );

  // ── behaviour ─────────────────────────────────────────────────────────────────────────
  let debounce;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.q = /** @type {HTMLInputElement} */ (search).value.trim();
      reload();
    }, 250);
  });
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === 'ArrowDown') {
      e.preventDefault();
      /** @type {HTMLElement} */ (search).blur();
    }
  });
  detectorSelect.addEventListener('change', () => {
    state.detector = /** @type {HTMLSelectElement} */ (detectorSelect).value;
    reload();
  });
  sortSelect.addEventListener('change', () => {
    state.sort = /** @type {HTMLSelectElement} */ (sortSelect).value;
    reload();
  });
  orderButton.addEventListener('click', () => {
    state.order = state.order === 'desc' ? 'asc' : 'desc';
    orderButton.textContent = state.order === 'desc' ? '↓' : '↑';
    reload();
  });
  pauseButton.addEventListener('click', () => {
    paused = !paused;
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    showLive();
    if (!paused) refresh();
  });

  function showLive() {
    if (paused) ctx.setLive('Paused', 'off');
    else if (!lastUpdate) ctx.setLive('Loading…', 'stale');
    else ctx.setLive(`Live · ${time(new Date(lastUpdate).toISOString())}`, Date.now() - lastUpdate > REFRESH_MS * 3 ? 'stale' : 'ok');
  }

  function renderScope() {
    const scoped = [
      ['tokenId', 'token'],
      ['agentId', 'agent'],
      ['target', 'target'],
      ['environment', 'environment'],
    ].filter(([k]) => state[k]);
    replace(
      scopeBar,
      scoped.map(([k, label]) =>
        h(
          'span',
          { class: 'scope-chip' },
          `${label}: `,
          h('strong', { class: 'mono' }, state[k]),
          h(
            'button',
            {
              type: 'button',
              class: 'scope-clear',
              'aria-label': `Clear ${label} filter`,
              onclick: () => {
                state[k] = '';
                reload();
              },
            },
            '×',
          ),
        ),
      ),
    );
    scopeBar.hidden = scoped.length === 0;
    for (const b of sevChips.querySelectorAll('button'))
      b.setAttribute('aria-pressed', String(state.severity.includes(b.dataset.severity)));
  }

  function renderTabs(summary) {
    const counts = {
      open: summary.byStatus.open,
      acknowledged: summary.byStatus.acknowledged,
      active: summary.byStatus.open + summary.byStatus.acknowledged,
      resolved: summary.byStatus.resolved,
      false_positive: summary.byStatus.false_positive,
      suppressed: summary.suppressed,
      all: summary.total,
    };
    replace(
      tabs,
      TABS.map((t) =>
        h(
          'a',
          {
            href: '#',
            role: 'tab',
            class: `tab${t.id === state.tab ? ' active' : ''}`,
            'aria-selected': String(t.id === state.tab),
            onclick: (e) => {
              e.preventDefault();
              state.tab = t.id;
              reload();
            },
          },
          t.label,
          h('span', { class: 'tab-count' }, String(counts[t.id] ?? 0)),
        ),
      ),
      h(
        'div',
        { class: 'sev-summary', title: 'Open alerts by severity' },
        SEVERITIES.map((s) =>
          h('span', { class: 'sev-count' }, h('b', { class: `sevc-${s}` }, String(summary.openBySeverity[s])), ` ${s}`),
        ),
      ),
    );
  }

  function row(a, i) {
    const open = () => ctx.navigate(`#/alerts/${encodeURIComponent(a.id)}`);
    const tr = h(
      'tr',
      {
        class: `row sev-row-${a.severity}${i === selected ? ' selected' : ''}`,
        dataset: { id: a.id },
        'aria-selected': String(i === selected),
        onclick: (e) => {
          if (/** @type {HTMLElement} */ (e.target).closest('a')) return;
          open();
        },
      },
      h('td', { class: 'c-sev' }, severityBadge(a.severity)),
      h('td', { class: 'c-det', title: a.title }, detectorLabel(a.detector)),
      h(
        'td',
        { class: 'c-reason' },
        h('a', { href: `#/alerts/${encodeURIComponent(a.id)}`, class: 'reason-link', title: a.reason }, a.reason),
      ),
      h('td', { class: 'c-token' }, tokenLink(a.tokenId)),
      h('td', { class: 'c-agent' }, agentLink(a.agentId)),
      h('td', { class: 'c-target', title: a.target }, a.target || '—'),
      h('td', { class: 'c-age', title: `last seen ${fullTime(a.lastSeen)}` }, age(a.lastSeen)),
      h('td', { class: 'c-count num' }, String(a.count)),
      h('td', { class: 'c-status' }, statusBadge(a.status, Boolean(a.suppression))),
      h('td', { class: 'c-assignee', title: a.assignee ?? '' }, a.assignee ?? ''),
    );
    return tr;
  }

  function renderRows() {
    if (alerts.length === 0) {
      replace(
        tableBody,
        h(
          'tr',
          null,
          h('td', { colspan: 10 }, empty(state.tab === 'open' ? 'Nothing needs you right now: no open alerts match.' : 'No alerts match.')),
        ),
      );
    } else {
      selected = Math.min(selected, alerts.length - 1);
      replace(
        tableBody,
        alerts.map((a, i) => row(a, i)),
      );
    }
    replace(
      more,
      nextCursor
        ? h(
            'button',
            {
              type: 'button',
              class: 'btn',
              onclick: async () => {
                const page = await api.alerts(listParams({ limit: PAGE, cursor: nextCursor }));
                alerts = [...alerts, ...page.alerts];
                nextCursor = page.nextCursor;
                renderRows();
              },
            },
            'Load more',
          )
        : alerts.length > 0
          ? h('span', { class: 'muted' }, `${alerts.length} alert${alerts.length === 1 ? '' : 's'}`)
          : null,
    );
  }

  function select(i) {
    if (alerts.length === 0) return;
    selected = Math.max(0, Math.min(alerts.length - 1, i));
    for (const [n, tr] of [...tableBody.querySelectorAll('tr.row')].entries()) {
      tr.classList.toggle('selected', n === selected);
      tr.setAttribute('aria-selected', String(n === selected));
      if (n === selected) tr.scrollIntoView({ block: 'nearest' });
    }
  }

  /** Reads the queue again; keeps the selected alert selected when it is still listed. */
  async function refresh() {
    if (refreshing || !ctx.alive()) return;
    refreshing = true;
    try {
      const keepId = alerts[selected]?.id;
      const limit = Math.min(500, Math.max(PAGE, Math.ceil(alerts.length / PAGE) * PAGE));
      const [page, summary] = await Promise.all([api.alerts(listParams({ limit })), api.summary(filters())]);
      if (!ctx.alive()) return;
      alerts = page.alerts;
      nextCursor = page.nextCursor;
      const idx = alerts.findIndex((a) => a.id === keepId);
      if (idx >= 0) selected = idx;
      renderTabs(summary);
      renderRows();
      lastUpdate = Date.now();
      showLive();
    } catch {
      if (ctx.alive()) ctx.setLive('Refresh failed', 'stale');
    } finally {
      refreshing = false;
    }
  }

  function reload() {
    selected = 0;
    alerts = [];
    saveQuery();
    renderScope();
    return refresh();
  }

  async function act(key) {
    const a = alerts[selected];
    if (!a) return;
    if (!mayTriage) return denyTriage();
    const action = ACTIONS[key];
    if (a.status === action.status) return;
    const updated = await triage(a.id, { status: action.status }, `${action.done}: ${a.title}`);
    if (updated) await refresh();
  }

  saveQuery();
  renderScope();
  await refresh();
  const timer = setInterval(() => {
    if (!paused && document.visibilityState === 'visible') refresh();
  }, REFRESH_MS);

  return {
    dispose() {
      clearInterval(timer);
      clearTimeout(debounce);
      ctx.setLive('', 'off');
    },
    /** @param {KeyboardEvent} e */
    onKey(e) {
      switch (e.key) {
        case 'j':
        case 'ArrowDown':
          select(selected + 1);
          return true;
        case 'k':
        case 'ArrowUp':
          select(selected - 1);
          return true;
        case 'Enter':
        case 'o':
          if (alerts[selected]) ctx.navigate(`#/alerts/${encodeURIComponent(alerts[selected].id)}`);
          return true;
        case '/':
          /** @type {HTMLInputElement} */ (search).focus();
          /** @type {HTMLInputElement} */ (search).select();
          return true;
        case 'a':
        case 'r':
        case 'f':
          act(e.key);
          return true;
        default:
          return false;
      }
    },
  };
}
