import { agentLink, duration, h, ms, time } from '../dom.js';

/** Used values shown before the rest fold into "+N more". */
const FOLD_AT = 8;

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
 * @param {{ grant?: any, task?: any, lifetime?: any }} [context]
 */
export function intentVsActual(ivsa, context = {}) {
  const { grant, task, lifetime } = context;
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
    // Deviations first, then the most used; long tails fold away.
    const sorted = [...d.used].sort((x, y) => Number(x.allowed !== false) - Number(y.allowed !== false) || y.count - x.count);
    const chips = sorted.map((u) =>
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
    );
    const shown = Math.max(FOLD_AT, sorted.filter((u) => u.allowed === false).length);
    const used = chips.length
      ? chips.length > shown
        ? [
            ...chips.slice(0, shown),
            h('details', { class: 'more-chips' }, h('summary', null, `+${chips.length - shown} more`), chips.slice(shown)),
          ]
        : chips
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
  const timeRow = lifetime ? lifetimeRow(lifetime) : null;
  if (timeRow) rows.push(timeRow);
  const outside = deviations + (timeRow ? timeRow.querySelectorAll('.actual-side .chip-deviation').length : 0);
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
          h('th', null, 'Actual — used', outside ? h('span', { class: 'dev-count' }, ` ${outside} outside`) : ''),
        ),
      ),
      h('tbody', null, rows),
    ),
  );
}

/** @param {string} text @param {string} [cls] @param {string} [title] */
const tchip = (text, cls = 'chip-granted', title = text) => h('span', { class: `chip ${cls}`, title }, text);

/**
 * Time, side by side: until when the grant, the session and the task allowed the token, and
 * when it was actually used and refreshed — a use or refresh after one of those ends is marked.
 *
 * @param {any} lt Lifetime
 */
function lifetimeRow(lt) {
  const granted = [];
  if (lt.expiresAt) granted.push(tchip(`expires ${time(lt.expiresAt)}`));
  if (lt.revokedAt) granted.push(tchip(`revoked ${time(lt.revokedAt)}`, 'chip-deviation'));
  if (lt.sessionEndsAt)
    granted.push(tchip(`session until ${time(lt.sessionEndsAt)}${lt.maxSessionS ? ` (${duration(lt.maxSessionS * 1000)})` : ''}`));
  if (lt.taskDeadline) granted.push(tchip(`task deadline ${time(lt.taskDeadline)}`));
  if (lt.taskEndedAt) granted.push(tchip(`task ended ${time(lt.taskEndedAt)}`));
  if (granted.length === 0 && !lt.firstUse && !lt.lastRefreshAt) return null;

  /** The ends a moment is past, by name. @param {string | null} t */
  const pastEnds = (t, ends) => ends.filter(([, end]) => end && ms(t) > ms(end)).map(([name]) => name);
  const used = [];
  if (lt.firstUse) used.push(tchip(`first use ${time(lt.firstUse)}`, 'chip-ok'));
  if (lt.lastUse) {
    const late = pastEnds(lt.lastUse, [
      ['expiry', lt.expiresAt],
      ['revocation', lt.revokedAt],
      ['session end', lt.sessionEndsAt],
      ['task end', lt.taskEndedAt],
    ]);
    used.push(
      late.length
        ? tchip(`✕ last use ${time(lt.lastUse)}`, 'chip-deviation', `last use after the ${late.join(', ')}`)
        : tchip(`last use ${time(lt.lastUse)}`, 'chip-ok'),
    );
  }
  if (lt.lastRefreshAt) {
    const late = pastEnds(lt.lastRefreshAt, [
      ['session end', lt.sessionEndsAt],
      ['task end', lt.taskEndedAt],
    ]);
    const text = `refreshed ${lt.refreshes}×, last ${time(lt.lastRefreshAt)}`;
    used.push(late.length ? tchip(`✕ ${text}`, 'chip-deviation', `refreshed after the ${late.join(', ')}`) : tchip(text, 'chip-ok'));
  }
  if (used.length === 0) used.push(h('span', { class: 'muted' }, 'not used'));
  const bad = used.some((c) => c.classList?.contains('chip-deviation'));
  return h(
    'tr',
    { class: bad ? 'deviates' : '' },
    h('th', { scope: 'row' }, 'Lifetime', h('div', { class: 'src mono' }, 'expiry · session · task')),
    h('td', { class: 'intent-side' }, granted.length ? granted : h('span', { class: 'muted' }, 'no end known')),
    h('td', { class: 'actual-side' }, used),
  );
}
