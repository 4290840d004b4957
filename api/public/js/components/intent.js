import { agentLink, h, time } from '../dom.js';

const DIMENSIONS = [
  ['services', 'Services', 'token.audience'],
  ['scopes', 'Scopes', 'token.scopes'],
  ['resources', 'Resources', 'token.resources'],
  ['tools', 'Tools', 'task.tools'],
  ['environments', 'Environment', 'deployment.environment.name'],
  ['agents', 'Presented by', 'grantee'],
];

/**
 * Intent vs actual, side by side: per dimension, what the grant (and the task) allow on the
 * left, what the token was used for on the right — each used value marked within or outside
 * the grant, with its count.
 *
 * @param {any} ivsa IntentVsActual
 * @param {{ grant?: any, task?: any }} [context]
 */
export function intentVsActual(ivsa, context = {}) {
  const { grant, task } = context;
  const deviations = DIMENSIONS.reduce((n, [k]) => n + ivsa[k].used.filter((u) => u.allowed === false).length, 0);
  const head = h(
    'div',
    { class: 'intent-head' },
    h(
      'div',
      { class: 'intent-text' },
      h('span', { class: 'label' }, 'Task intent'),
      ivsa.intent
        ? h('q', null, ivsa.intent)
        : h('span', { class: 'muted' }, task ? 'the task states no intent' : 'no task is known for this token'),
    ),
    grant
      ? h(
          'div',
          { class: 'grant-line muted' },
          `${grant.event} to `,
          agentLink(grant.agentId),
          grant.taskId ? ` for task ${grant.taskId}` : '',
          ` at ${time(grant.time)}`,
          grant.expiresAt ? ` · expires ${time(grant.expiresAt)}` : '',
          grant.environment ? ` · env ${grant.environment}` : '',
        )
      : h('div', { class: 'grant-line warn' }, 'No grant describes this token: nothing it did is known to be allowed.'),
  );
  const rows = DIMENSIONS.map(([key, label, source]) => {
    const d = ivsa[key];
    const granted = d.restricted
      ? d.granted.map((g) => h('span', { class: 'chip chip-granted', title: g }, g))
      : [
          h(
            'span',
            { class: 'muted', title: `${source} does not restrict this` },
            ivsa.grantKnown || key === 'tools' ? 'not restricted' : 'unknown',
          ),
        ];
    const used = d.used.length
      ? d.used.map((u) =>
          h(
            'span',
            {
              class: `chip ${u.allowed === false ? 'chip-deviation' : u.allowed === null ? 'chip-unknown' : 'chip-ok'}`,
              title: `${u.value}: ${u.count} use${u.count === 1 ? '' : 's'}${u.allowed === false ? ' — outside the grant' : u.allowed === null ? ' — no grant to compare with' : ''}`,
            },
            u.allowed === false ? h('span', { class: 'dev-mark', 'aria-label': 'outside the grant' }, '✕ ') : null,
            u.value,
            h('span', { class: 'chip-count' }, `×${u.count}`),
          ),
        )
      : [h('span', { class: 'muted' }, 'none')];
    const bad = d.used.some((u) => u.allowed === false);
    return h(
      'tr',
      { class: bad ? 'deviates' : '' },
      h('th', { scope: 'row' }, label, h('div', { class: 'src mono' }, source)),
      h('td', { class: 'intent-side' }, granted),
      h('td', { class: 'actual-side' }, used),
    );
  });
  return h(
    'div',
    { class: 'intent', 'data-testid': 'intent-vs-actual' },
    head,
    h(
      'table',
      { class: 'intent-table' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', null, ''),
          h('th', null, 'Intent — granted'),
          h('th', null, 'Actual — used', deviations ? h('span', { class: 'dev-count' }, ` ${deviations} outside`) : ''),
        ),
      ),
      h('tbody', null, rows),
    ),
  );
}
