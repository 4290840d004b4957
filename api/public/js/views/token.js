import { api } from '../api.js';
import { chains, stateFlag } from '../components/chain.js';
import { intentVsActual } from '../components/intent.js';
import { usesTimeline } from '../components/timeline.js';
import {
  age,
  agentLink,
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
  when,
} from '../dom.js';
import { queueHash } from './queue-link.js';

/**
 * A token: its status and lifetime, its session and delegation chain, intent vs actual, every
 * use on a timeline against its lifetime, its alerts and its lifecycle events.
 */
export async function render(ctx) {
  const id = ctx.params[0];
  const t = await api.token(id);
  if (!ctx.alive()) return;
  const lt = t.lifetime;
  const alertRows = t.alerts.map((a) =>
    h(
      'tr',
      { class: 'row', onclick: () => ctx.navigate(`#/alerts/${encodeURIComponent(a.id)}`) },
      h('td', null, severityBadge(a.severity)),
      h('td', null, detectorLabel(a.detector)),
      h(
        'td',
        { class: 'c-reason' },
        h('a', { class: 'reason-link', href: `#/alerts/${encodeURIComponent(a.id)}`, title: a.reason }, a.reason),
      ),
      h('td', null, h('span', { class: 'mono' }, a.tokenId)),
      h('td', { title: fullTime(a.lastSeen) }, age(a.lastSeen)),
      h('td', { class: 'num' }, String(a.count)),
      h('td', null, statusBadge(a.status, Boolean(a.suppression))),
    ),
  );
  const uses = t.uses.items.map((u) =>
    h(
      'tr',
      { class: u.alertIds.length ? 'flagged' : '' },
      h('td', { title: fullTime(u.time) }, time(u.time)),
      h('td', null, agentLink(u.agentId)),
      h('td', null, u.target || '—'),
      h('td', { class: 'wrap' }, u.action),
      h(
        'td',
        null,
        u.scopes.map((s) => chip(s)),
      ),
      h('td', { class: 'wrap' }, u.resource || h('span', { class: 'muted' }, '—')),
      h('td', null, u.environment || '—'),
      h(
        'td',
        null,
        u.alertIds.length
          ? h(
              'a',
              { class: 'link flag', href: `#/alerts/${encodeURIComponent(u.alertIds[0])}` },
              `${u.alertIds.length} alert${u.alertIds.length === 1 ? '' : 's'}`,
            )
          : '',
      ),
    ),
  );
  replace(
    ctx.root,
    h(
      'div',
      { class: 'page token-page' },
      h(
        'div',
        { class: 'alert-header' },
        h('nav', { class: 'crumbs' }, h('a', { href: queueHash(), class: 'link' }, '← Queue'), ' / token'),
        h(
          'div',
          { class: 'alert-title-row' },
          h('h1', { class: 'alert-title mono' }, t.tokenId),
          h('span', { class: `token-status ts-${t.status}` }, t.status),
          t.state.revokedVia && t.state.revokedVia !== 'self' ? stateFlag(t.state) : null,
          t.grant
            ? h('span', { class: 'muted' }, `${t.grant.event} to `, agentLink(t.grant.agentId), t.task ? ` for ${t.task.taskId}` : '')
            : null,
          h('span', { class: 'spacer' }),
          h(
            'a',
            { class: 'btn', href: `#/alerts?tab=all&tokenId=${encodeURIComponent(t.session.rootTokenId)}` },
            `Alerts of this session (${t.alerts.length})`,
          ),
        ),
        h(
          'dl',
          { class: 'facts facts-inline' },
          field('Issued', lt.issuedAt ? when(lt.issuedAt) : ''),
          field('Expires', lt.expiresAt ? when(lt.expiresAt) : ''),
          field('Renewed until', t.state.renewedUntil ? when(t.state.renewedUntil) : ''),
          field('Revoked', lt.revokedAt ? when(lt.revokedAt) : ''),
          field('Task deadline', lt.taskDeadline ? when(lt.taskDeadline) : ''),
          field('Task ended', lt.taskEndedAt ? h('span', null, when(lt.taskEndedAt), ` (${t.task?.endEvent})`) : ''),
          field('Session ends', lt.sessionEndsAt ? when(lt.sessionEndsAt) : ''),
          field('Uses', `${t.uses.total}${lt.lastUse ? `, last ${age(lt.lastUse)} ago` : ''}`),
        ),
      ),
      panel('Session and delegation', chains(t)),
      panel(
        `Timeline of uses (${t.uses.total})`,
        t.uses.total || t.lifetime.issuedAt ? usesTimeline(t) : empty('This token has not been used, and no grant describes it.'),
      ),
      h(
        'div',
        { class: 'columns' },
        h(
          'div',
          { class: 'col-main' },
          panel('Intent vs actual', intentVsActual(t.intentVsActual, { grant: t.grant, task: t.task, lifetime: t.lifetime })),
          panel(
            `Alerts (${t.alerts.length})`,
            t.alerts.length
              ? h(
                  'table',
                  { class: 'grid' },
                  h(
                    'thead',
                    null,
                    h(
                      'tr',
                      null,
                      ['Severity', 'Detector', 'Reason', 'Token', 'Age', '#', 'Status'].map((c) => h('th', null, c)),
                    ),
                  ),
                  h('tbody', null, alertRows),
                )
              : empty('No alerts about this token’s session.'),
          ),
        ),
        h(
          'div',
          { class: 'col-side' },
          panel(
            'Lifecycle events',
            t.events.length
              ? h(
                  'ol',
                  { class: 'history' },
                  t.events.map((e) =>
                    h(
                      'li',
                      null,
                      h('div', { class: 'hist-meta muted' }, when(e.time), ' · ', e.caller || e.source),
                      h(
                        'div',
                        null,
                        h('b', null, e.event),
                        e.parentId
                          ? [' from ', h('a', { class: 'mono link', href: `#/tokens/${encodeURIComponent(e.parentId)}` }, e.parentId)]
                          : '',
                        e.agentId ? [' to ', agentLink(e.agentId)] : '',
                        e.revokedReason ? `: ${e.revokedReason}` : '',
                      ),
                      e.audience.length
                        ? h(
                            'div',
                            { class: 'chips' },
                            e.audience.map((a) => chip(a, 'chip-granted')),
                          )
                        : null,
                    ),
                  ),
                )
              : empty('No issued, refreshed, exchanged, renewed or revoked event describes this token.'),
          ),
        ),
      ),
      panel(
        `Uses${t.uses.truncated ? ` (latest ${t.uses.items.length} of ${t.uses.total})` : ''}`,
        uses.length
          ? h(
              'table',
              { class: 'grid uses' },
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  ['Time', 'Agent', 'Target', 'Action', 'Scopes', 'Resource', 'Env', 'Alerts'].map((c) => h('th', null, c)),
                ),
              ),
              h('tbody', null, uses),
            )
          : empty('No uses.'),
      ),
    ),
  );
}
