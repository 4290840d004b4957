import { api } from '../api.js';
import { age, empty, fullTime, h, replace, severityBadge } from '../dom.js';

/** Every agent named by a grant or a use: open alerts first, then the most recently active. */
export async function render(ctx) {
  let q = ctx.query.get('q') ?? '';
  const body = h('tbody');
  const search = h('input', {
    type: 'search',
    class: 'input search',
    placeholder: 'Filter agents…  ( / )',
    value: q,
    'aria-label': 'Filter agents',
  });
  let selected = 0;
  let agents = [];

  async function load() {
    const list = await api.agents({ q });
    if (!ctx.alive()) return;
    agents = list.agents;
    selected = Math.min(selected, Math.max(0, agents.length - 1));
    replace(
      body,
      agents.length
        ? agents.map((a, i) =>
            h(
              'tr',
              {
                class: `row${i === selected ? ' selected' : ''}`,
                onclick: () => ctx.navigate(`#/agents/${encodeURIComponent(a.agentId)}`),
              },
              h('td', null, h('a', { class: 'link', href: `#/agents/${encodeURIComponent(a.agentId)}` }, a.agentId)),
              h(
                'td',
                { class: 'num' },
                a.openAlerts
                  ? h('span', { class: 'open-alerts' }, severityBadge(a.worstOpenSeverity), ` ${a.openAlerts}`)
                  : h('span', { class: 'muted' }, '0'),
              ),
              h('td', { class: 'num' }, String(a.tokens)),
              h('td', { class: 'num' }, String(a.tokensUsed)),
              h('td', { class: 'num' }, String(a.uses)),
              h('td', { class: 'wrap' }, a.targets.join(', ') || h('span', { class: 'muted' }, '—')),
              h('td', { title: fullTime(a.lastSeen) }, a.lastSeen ? `${age(a.lastSeen)} ago` : '—'),
            ),
          )
        : h('tr', null, h('td', { colspan: 7 }, empty('No agent matches.'))),
    );
  }

  let debounce;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      q = /** @type {HTMLInputElement} */ (search).value.trim();
      ctx.setQuery(new URLSearchParams(q ? { q } : {}));
      load();
    }, 250);
  });

  replace(
    ctx.root,
    h(
      'div',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', null, 'Agents'), search, h('span', { class: 'muted' }, 'activity of the last 7 days')),
      h(
        'div',
        { class: 'grid-wrap' },
        h(
          'table',
          { class: 'grid', 'aria-label': 'Agents' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', null, 'Agent'),
              h('th', { class: 'num' }, 'Open alerts'),
              h('th', { class: 'num', title: 'Tokens granted to the agent' }, 'Tokens'),
              h('th', { class: 'num', title: 'Distinct tokens the agent presented' }, 'Used'),
              h('th', { class: 'num' }, 'Uses'),
              h('th', null, 'Targets'),
              h('th', null, 'Last seen'),
            ),
          ),
          body,
        ),
      ),
    ),
  );
  await load();
  const timer = setInterval(() => document.visibilityState === 'visible' && load().catch(() => undefined), 30_000);
  return {
    dispose: () => {
      clearInterval(timer);
      clearTimeout(debounce);
    },
    onKey(e) {
      const rows = [...body.querySelectorAll('tr.row')];
      if (e.key === 'j' || e.key === 'k') {
        selected = Math.max(0, Math.min(rows.length - 1, selected + (e.key === 'j' ? 1 : -1)));
        for (const [i, r] of rows.entries()) r.classList.toggle('selected', i === selected);
        rows[selected]?.scrollIntoView({ block: 'nearest' });
        return true;
      }
      if (e.key === 'Enter' && agents[selected]) {
        ctx.navigate(`#/agents/${encodeURIComponent(agents[selected].agentId)}`);
        return true;
      }
      if (e.key === '/') {
        /** @type {HTMLInputElement} */ (search).focus();
        return true;
      }
      return false;
    },
  };
}
