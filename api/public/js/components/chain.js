import { agentLink, duration, h, time } from '../dom.js';

/**
 * The flag a token carries in a chain, from the effective state the API computed by the lineage
 * rules: revoked itself, revoked through its session or a delegator (naming the revoked token),
 * expired, or renewed.
 *
 * @param {any} state LineageState
 */
export function stateFlag(state) {
  if (state.revokedVia === 'self') return h('div', { class: 'chain-flag flag-revoked' }, `revoked ${time(state.revokedAt)}`);
  if (state.revokedVia) {
    return h(
      'div',
      { class: 'chain-flag flag-revoked', 'data-testid': 'revoked-through', title: state.revokedReason || '' },
      `revoked through ${state.revokedVia === 'session' ? 'its session' : 'a delegator'}: `,
      h('a', { class: 'mono link', href: `#/tokens/${encodeURIComponent(state.revokedBy)}` }, state.revokedBy),
      ` ${time(state.revokedAt)}`,
    );
  }
  if (state.status === 'expired') return h('div', { class: 'chain-flag flag-expired' }, `expired ${time(state.expiresAt)}`);
  if (state.renewedUntil) return h('div', { class: 'chain-flag' }, `renewed until ${time(state.renewedUntil)}`);
  return null;
}

/** @param {any} link ChainLink */
function node(link) {
  const revoked = Boolean(link.state.revokedVia);
  return h(
    'div',
    {
      class: `chain-node${link.current ? ' current' : ''}${revoked ? ' revoked' : ''}${link.event === 'unknown' ? ' unknown' : ''}`,
      'data-token': link.tokenId,
    },
    h(
      'div',
      { class: 'chain-id' },
      link.current
        ? h('span', { class: 'mono', title: link.tokenId }, link.tokenId)
        : h('a', { class: 'mono link', href: `#/tokens/${encodeURIComponent(link.tokenId)}`, title: link.tokenId }, link.tokenId),
    ),
    h('div', { class: 'chain-meta' }, link.agentId ? agentLink(link.agentId) : h('span', { class: 'muted' }, 'no grantee known')),
    h(
      'div',
      { class: 'chain-meta muted' },
      link.event === 'unknown' ? 'no grant' : `${link.event} ${time(link.time)}`,
      ` · ${link.uses} use${link.uses === 1 ? '' : 's'}`,
    ),
    stateFlag(link.state),
  );
}

/** @param {string} label @param {string} [cls] */
function arrow(label, cls = '') {
  return h(
    'div',
    { class: `chain-arrow ${cls}`.trim() },
    h('span', { class: 'chain-arrow-label' }, label),
    h('span', { class: 'chain-arrow-line', 'aria-hidden': 'true' }),
  );
}

/**
 * The token's session (root and refreshes) and delegation chain (exchange hops from the
 * original grant, and delegations out of this session) drawn as chains of tokens.
 *
 * @param {any} token TokenDetail
 */
export function chains(token) {
  const hops = token.delegation.chain;
  const delegation = h('div', { class: 'chain', 'data-testid': 'delegation-chain' });
  hops.forEach((link, i) => {
    if (i > 0) delegation.append(arrow(`exchanged → ${link.agentId || '?'}`, 'arrow-exchange'));
    delegation.append(node({ ...link, current: link.tokenId === token.tokenId }));
  });
  // Everything delegated out of the session: exchanges, and the refreshes and exchanges below them.
  for (const d of token.delegation.delegatedTo) {
    delegation.append(
      d.event === 'refreshed'
        ? arrow('refreshed', 'arrow-refresh arrow-out')
        : arrow(`exchanged → ${d.agentId || '?'}`, 'arrow-exchange arrow-out'),
    );
    delegation.append(node(d));
  }
  const session = h('div', { class: 'chain', 'data-testid': 'session-chain' });
  token.session.tokens.forEach((link, i) => {
    if (i > 0) session.append(arrow('refreshed', 'arrow-refresh'));
    session.append(node(link));
  });
  const sessionNote = [
    token.session.complete ? null : 'incomplete: a grant on the way to the root has not arrived',
    token.session.startedAt ? `started ${time(token.session.startedAt)}` : null,
    token.session.maxSessionS ? `may live ${duration(token.session.maxSessionS * 1000)}` : null,
    token.session.endsAt ? `ends ${time(token.session.endsAt)}` : null,
  ].filter(Boolean);
  return h(
    'div',
    { class: 'chains' },
    h(
      'div',
      { class: 'chain-row' },
      h(
        'div',
        { class: 'chain-label' },
        'Delegation',
        h(
          'div',
          { class: 'muted sub' },
          hops.length > 1 ? `${hops.length - 1} exchange${hops.length === 2 ? '' : 's'} from the grant` : 'original grant',
        ),
      ),
      delegation,
    ),
    h(
      'div',
      { class: 'chain-row' },
      h('div', { class: 'chain-label' }, 'Session', h('div', { class: 'muted sub' }, sessionNote.join(' · '))),
      session,
    ),
  );
}
