/**
 * The intentwatch web UI: sign-in, a hash router over the views, the top bar, and the keyboard.
 * Each view renders into #app and may return `dispose` (timers) and `onKey` (its shortcuts).
 */
import { ApiError, api, session } from './api.js';
import { h, replace } from './dom.js';
import * as agentView from './views/agent.js';
import * as agentsView from './views/agents.js';
import * as alertView from './views/alert.js';
import * as queueView from './views/queue.js';
import { queueHash } from './views/queue-link.js';
import * as signinView from './views/signin.js';
import * as suppressionsView from './views/suppressions.js';
import * as tokenView from './views/token.js';

const root = /** @type {HTMLElement} */ (document.getElementById('app'));
const topbar = /** @type {HTMLElement} */ (document.getElementById('topbar'));

/** @type {{ name: string, role: 'viewer' | 'analyst' | 'admin' } | null} */
let me = null;
/** @type {{ dispose?: () => void, onKey?: (e: KeyboardEvent) => boolean } | undefined} */
let current;
let generation = 0;

const ROUTES = [
  { re: /^\/alerts\/([^/]+)$/, view: alertView, nav: 'alerts' },
  { re: /^\/(?:alerts)?$/, view: queueView, nav: 'alerts' },
  { re: /^\/tokens\/(.+)$/, view: tokenView, nav: 'alerts' },
  { re: /^\/agents\/(.+)$/, view: agentView, nav: 'agents' },
  { re: /^\/agents$/, view: agentsView, nav: 'agents' },
  { re: /^\/suppressions$/, view: suppressionsView, nav: 'suppressions' },
];

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/alerts';
  const [path, query = ''] = raw.split('?', 2);
  return { path: path || '/alerts', query: new URLSearchParams(query) };
}

/**
 * A path segment of the hash, percent-decoded; null when it is not valid percent-encoding.
 * @param {string} p
 * @returns {string | null}
 */
function decodeParam(p) {
  try {
    return decodeURIComponent(p);
  } catch {
    return null;
  }
}

/** @param {string} hash */
export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  const gen = ++generation;
  current?.dispose?.();
  current = undefined;
  if (!session.key) {
    topbar.hidden = true;
    signinView.render({ root, onSignedIn });
    return;
  }
  if (!me) {
    try {
      me = await api.me();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return signOut('That API key is no longer accepted. Sign in again.');
      replace(root, h('div', { class: 'page-error' }, e instanceof Error ? e.message : String(e)));
      return;
    }
  }
  showTopbar();
  const { path, query } = parseHash();
  const match = ROUTES.map((r) => ({ r, m: r.re.exec(path) })).find((x) => x.m);
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.getAttribute('data-nav') === match?.r.nav);
  if (!match?.m) {
    replace(root, h('div', { class: 'page-error' }, 'No such page. ', h('a', { href: '#/alerts', class: 'link' }, 'Back to the queue')));
    return;
  }
  const decoded = match.m.slice(1).map(decodeParam);
  if (decoded.includes(null)) {
    // A link cut or typed by hand (`#/alerts/%E0%A4%A`): its id cannot be read, so it names nothing.
    replace(
      root,
      h(
        'div',
        { class: 'page-error' },
        'No such page: the address is not valid. ',
        h('a', { href: '#/alerts', class: 'link' }, 'Back to the queue'),
      ),
    );
    return;
  }
  const params = /** @type {string[]} */ (decoded);
  const ctx = {
    root,
    me,
    params,
    query,
    navigate,
    alive: () => gen === generation,
    setLive,
    setQuery: (/** @type {URLSearchParams} */ q) => {
      const s = q.toString();
      history.replaceState(null, '', `#${path}${s ? `?${s}` : ''}`);
    },
  };
  root.classList.add('loading');
  try {
    const view = await match.r.view.render(ctx);
    if (gen === generation) current = view ?? undefined;
    else view?.dispose?.();
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof ApiError && e.status === 401) return;
    replace(
      root,
      h(
        'div',
        { class: 'page-error' },
        h('strong', null, e instanceof ApiError && e.status === 404 ? 'Not found. ' : 'Could not load this page. '),
        e instanceof Error ? e.message : String(e),
        ' ',
        h('a', { href: '#/alerts', class: 'link' }, 'Back to the queue'),
      ),
    );
  } finally {
    if (gen === generation) root.classList.remove('loading');
  }
}

/** The open-alert count beside "Queue": the whole queue, whatever the page's filters. */
async function refreshOpenCount() {
  if (!me || document.visibilityState !== 'visible') return;
  try {
    const summary = await api.summary();
    const nav = document.getElementById('nav-open-count');
    if (nav) nav.textContent = summary.byStatus.open > 0 ? String(summary.byStatus.open) : '';
  } catch {
    // The next tick tries again; the pages report their own errors.
  }
}
setInterval(refreshOpenCount, 15_000);

function showTopbar() {
  refreshOpenCount();
  topbar.hidden = false;
  const who = document.getElementById('whoami');
  if (who && me) replace(who, h('span', { class: `role role-${me.role}` }, me.role), ' ', h('span', { class: 'mono muted' }, me.name));
}

/** @param {string} text @param {'ok' | 'stale' | 'off'} [state] */
function setLive(text, state = 'ok') {
  const el = document.getElementById('live');
  if (!el) return;
  el.textContent = text;
  el.className = `live live-${state}`;
}

/** @param {{ name: string, role: 'viewer' | 'analyst' | 'admin' }} identity */
function onSignedIn(identity) {
  me = identity;
  if (!location.hash || location.hash === '#/' || location.hash === '#') location.hash = '#/alerts';
  else route();
}

/** @param {string} [message] */
function signOut(message) {
  session.signOut();
  me = null;
  current?.dispose?.();
  current = undefined;
  topbar.hidden = true;
  signinView.render({ root, onSignedIn, message });
}

session.onUnauthorized(() => signOut('That API key is no longer accepted. Sign in again.'));

document.getElementById('signout')?.addEventListener('click', () => signOut());
document.getElementById('help-button')?.addEventListener('click', () => toggleHelp());

const SHORTCUTS = [
  ['j / k', 'next / previous alert in the queue'],
  ['Enter', 'open the selected alert'],
  ['a', 'acknowledge (queue: selected alert)'],
  ['r', 'resolve'],
  ['f', 'mark as false positive'],
  ['o', 'reopen (alert page)'],
  ['n', 'write a note (alert page)'],
  ['/', 'search the queue'],
  ['g q / g a / g s', 'go to queue / agents / suppressions'],
  ['Esc', 'back to the queue; close dialogs'],
  ['?', 'this help'],
];

function toggleHelp() {
  const open = document.getElementById('help');
  if (open) {
    open.remove();
    return;
  }
  const dialog = h(
    'div',
    {
      id: 'help',
      class: 'overlay',
      role: 'dialog',
      'aria-label': 'Keyboard shortcuts',
      onclick: (e) => e.target === dialog && dialog.remove(),
    },
    h(
      'div',
      { class: 'dialog' },
      h('h2', null, 'Keyboard shortcuts'),
      h(
        'table',
        { class: 'shortcuts' },
        h(
          'tbody',
          null,
          SHORTCUTS.map(([k, v]) => h('tr', null, h('td', null, h('kbd', null, k)), h('td', null, v))),
        ),
      ),
      h('button', { type: 'button', class: 'btn', onclick: () => dialog.remove() }, 'Close'),
    ),
  );
  document.body.append(dialog);
}

let pendingG = false;
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const target = /** @type {HTMLElement} */ (e.target);
  const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
  if (e.key === 'Escape') {
    const overlay = document.querySelector('.overlay');
    if (overlay) {
      overlay.remove();
      e.preventDefault();
      return;
    }
    if (typing) {
      target.blur();
      return;
    }
  }
  if (typing || !me) return;
  if (pendingG) {
    pendingG = false;
    const to = { q: '#/alerts', a: '#/agents', s: '#/suppressions' }[e.key];
    if (to) {
      e.preventDefault();
      navigate(to);
      return;
    }
  }
  if (e.key === 'g') {
    pendingG = true;
    setTimeout(() => {
      pendingG = false;
    }, 1000);
    return;
  }
  if (e.key === '?') {
    e.preventDefault();
    toggleHelp();
    return;
  }
  if (current?.onKey?.(e)) {
    e.preventDefault();
    return;
  }
  if (e.key === 'Escape' && !/^#\/alerts(\?|$)/.test(location.hash)) {
    e.preventDefault();
    navigate(queueHash());
  }
});

window.addEventListener('hashchange', route);
route();
