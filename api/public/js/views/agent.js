import { api } from '../api.js';
import { activityBars } from '../components/timeline.js';
import {
  age,
  chip,
  detectorLabel,
  empty,
  field,
  fullTime,
  h,
  panel,
  replace,
  severityBadge,
  statusBadge,
  time,
  tokenLink,
  when,
} from '../dom.js';

/** An agent: its tokens (and tokens of others it presented), tasks, activity and alerts. */
export async function render(ctx) {
  const id = ctx.params[0];
  const a = await api.agent(id);
  if (!ctx.alive()) return;
  const maxTarget = Math.max(1, ...a.activity.byTarget.map((t) => t.count));
  const tokens = a.tokenList.map((t) => {
    const foreign = t.grantedTo && t.grantedTo !== a.agentId;
    return h(
      'tr',
      { class: foreign ? 'flagged' : '' },
      h('td', null, tokenLink(t.tokenId)),
      h('td', null, t.event),
      h(
        'td',
        null,
        foreign
          ? h('span', { class: 'deviation', title: 'this agent presented a token granted to another agent' }, t.grantedTo)
          : t.grantedTo || h('span', { class: 'muted' }, 'no grant'),
      ),
      h('td', { title: fullTime(t.grantedAt) }, time(t.grantedAt)),
      h(
        'td',
        { title: fullTime(t.expiresAt) },
        t.revokedAt ? h('span', { class: 'deviation' }, `revoked ${time(t.revokedAt)}`) : time(t.expiresAt),
      ),
      h('td', { class: 'mono' }, t.taskId || '—'),
      h(
        'td',
        null,
        t.audience.map((x) => chip(x, 'chip-granted')),
      ),
      h('td', { class: 'num' }, String(t.uses)),
      h('td', { title: fullTime(t.lastUse) }, t.lastUse ? `${age(t.lastUse)} ago` : '—'),
      h('td', { class: 'num' }, t.openAlerts ? h('span', { class: 'open-alerts' }, String(t.openAlerts)) : '0'),
    );
  });
  replace(
    ctx.root,
    h(
      'div',
      { class: 'page agent-page' },
      h(
        'div',
        { class: 'alert-header' },
        h('nav', { class: 'crumbs' }, h('a', { href: '#/agents', class: 'link' }, '← Agents'), ' / agent'),
        h(
          'div',
          { class: 'alert-title-row' },
          h('h1', { class: 'alert-title' }, a.agentId),
          a.openAlerts
            ? h('span', { class: 'open-alerts' }, severityBadge(a.worstOpenSeverity), ` ${a.openAlerts} open`)
            : h('span', { class: 'muted' }, 'no open alerts'),
          h('span', { class: 'spacer' }),
          h('a', { class: 'btn', href: `#/alerts?tab=active&agentId=${encodeURIComponent(a.agentId)}` }, 'Alerts in the queue'),
        ),
        h(
          'dl',
          { class: 'facts facts-inline' },
          field('Tokens granted', String(a.tokens)),
          field('Tokens used', String(a.tokensUsed)),
          field('Uses', String(a.uses)),
          field('First seen', a.firstSeen ? when(a.firstSeen) : ''),
          field('Last seen', a.lastSeen ? when(a.lastSeen) : ''),
          field('Workloads', a.workloads.length ? a.workloads.map((w) => chip(w, 'mono')) : ''),
        ),
      ),
      h(
        'div',
        { class: 'columns' },
        h('div', { class: 'col-main' }, panel('Activity', activityBars(a.activity))),
        h(
          'div',
          { class: 'col-side' },
          panel(
            'Targets',
            a.activity.byTarget.length
              ? h(
                  'ul',
                  { class: 'hbars' },
                  a.activity.byTarget.map((t) => {
                    const bar = h('span', { class: 'hbar' });
                    bar.style.width = `${Math.max(2, (t.count / maxTarget) * 100)}%`;
                    return h(
                      'li',
                      null,
                      h('span', { class: 'hbar-label', title: t.value }, t.value),
                      h('span', { class: 'hbar-track' }, bar),
                      h('span', { class: 'num' }, String(t.count)),
                    );
                  }),
                )
              : empty('No uses in this window.'),
          ),
        ),
      ),
      panel(
        `Tokens (${a.tokenList.length})`,
        tokens.length
          ? h(
              'table',
              { class: 'grid' },
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  ['Token', 'Event', 'Granted to', 'Granted', 'Expires', 'Task', 'Audience', 'Uses', 'Last use', 'Open'].map((c) =>
                    h('th', null, c),
                  ),
                ),
              ),
              h('tbody', null, tokens),
            )
          : empty('No tokens.'),
      ),
      h(
        'div',
        { class: 'columns' },
        h(
          'div',
          { class: 'col-main' },
          panel(
            `Alerts (${a.alerts.length})`,
            a.alerts.length
              ? h(
                  'table',
                  { class: 'grid' },
                  h(
                    'thead',
                    null,
                    h(
                      'tr',
                      null,
                      ['Severity', 'Detector', 'Reason', 'Age', '#', 'Status'].map((c) => h('th', null, c)),
                    ),
                  ),
                  h(
                    'tbody',
                    null,
                    a.alerts.map((x) =>
                      h(
                        'tr',
                        { class: 'row', onclick: () => ctx.navigate(`#/alerts/${encodeURIComponent(x.id)}`) },
                        h('td', null, severityBadge(x.severity)),
                        h('td', null, detectorLabel(x.detector)),
                        h(
                          'td',
                          { class: 'c-reason' },
                          h('a', { class: 'reason-link', href: `#/alerts/${encodeURIComponent(x.id)}`, title: x.reason }, x.reason),
                        ),
                        h('td', { title: fullTime(x.lastSeen) }, age(x.lastSeen)),
                        h('td', { class: 'num' }, String(x.count)),
                        h('td', null, statusBadge(x.status, Boolean(x.suppression))),
                      ),
                    ),
                  ),
                )
              : empty('No alerts about this agent.'),
          ),
        ),
        h(
          'div',
          { class: 'col-side' },
          panel(
            `Tasks (${a.tasks.length})`,
            a.tasks.length
              ? h(
                  'ol',
                  { class: 'history' },
                  a.tasks.map((t) =>
                    h(
                      'li',
                      null,
                      h(
                        'div',
                        { class: 'hist-meta muted' },
                        h('span', { class: 'mono' }, t.taskId),
                        t.startedAt ? [' · started ', when(t.startedAt)] : '',
                        t.endedAt ? [` · ${t.endEvent} `, when(t.endedAt)] : ' · running',
                      ),
                      h('div', null, t.intent || h('span', { class: 'muted' }, 'no intent stated')),
                      t.tools.length
                        ? h(
                            'div',
                            { class: 'chips' },
                            t.tools.map((x) => chip(x, 'chip-granted')),
                          )
                        : null,
                    ),
                  ),
                )
              : empty('No tasks.'),
          ),
        ),
      ),
    ),
  );
}
