import { ApiError, api } from '../api.js';
import { intentVsActual } from '../components/intent.js';
import { ACTIONS, canTriage, denyTriage, kbd, triage } from '../components/triage.js';
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
  toast,
  tokenLink,
  when,
} from '../dom.js';
import { queueHash } from './queue-link.js';

/**
 * One alert: the reason, intent vs actual side by side, the evidence as a timeline of what was
 * done, framework ids, triage (status, assignee, notes, suppression) and the audit trail.
 */
/** Shared Signals event types by the prefix of their dedup key (see responders/src/ssf). */
const SSF_EVENT_NAMES = {
  risk: 'CAEP risk-level-change',
  compromise: 'RISC credential-compromise',
  revoked: 'CAEP session-revoked',
  verify: 'SSF verification',
};

/** How the token a revoke request names stands to the alert's token (see responders/src/revoke-targets.ts). */
const RELATION_NAMES = {
  self: "the alert's token",
  session: 'its session',
  delegated: 'delegated from its session',
  delegator: 'up its delegation chain',
  chain: 'elsewhere in its delegation chain',
};

export async function render(ctx) {
  const id = ctx.params[0];
  let [alert, deliveries] = await Promise.all([api.alert(id), loadDeliveries()]);
  if (!ctx.alive()) return;
  const mayTriage = canTriage(ctx.me);
  const page = h('div', { class: 'page alert-page' });
  replace(ctx.root, page);

  const note = () => /** @type {HTMLTextAreaElement | null} */ (page.querySelector('#note'));

  /** Revoke requests for this alert, or null when this deployment runs no responders. */
  async function loadDeliveries() {
    if (!ctx.me?.features?.includes('responders')) return null;
    try {
      return (await api.deliveries(id)).deliveries;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return [];
      throw e;
    }
  }

  async function reload() {
    [alert, deliveries] = await Promise.all([api.alert(id), loadDeliveries()]);
    if (ctx.alive()) draw();
  }

  async function setStatus(key) {
    if (!mayTriage) return denyTriage();
    const action = ACTIONS[key];
    if (alert.status === action.status) return;
    if (await triage(id, { status: action.status }, action.done)) await reload();
  }

  function draw() {
    const a = alert;
    const deviating = new Set();
    for (const d of Object.values(a.intentVsActual)) {
      if (d && typeof d === 'object' && 'used' in d) for (const u of d.used) if (u.allowed === false) deviating.add(u.value);
    }
    const mark = (v) =>
      v && deviating.has(v) ? h('span', { class: 'deviation', title: 'outside the grant' }, v) : v || h('span', { class: 'muted' }, '—');

    const header = h(
      'div',
      { class: 'alert-header' },
      h(
        'nav',
        { class: 'crumbs' },
        h('a', { href: queueHash(), class: 'link' }, '← Queue'),
        ' / ',
        detectorLabel(a.detector),
        ' / ',
        h('span', { class: 'mono' }, a.id),
      ),
      h(
        'div',
        { class: 'alert-title-row' },
        severityBadge(a.severity),
        h('h1', { class: 'alert-title' }, a.title),
        h('span', { 'data-testid': 'alert-status' }, statusBadge(a.status, Boolean(a.suppression))),
        a.assignee ? h('span', { class: 'assignee-badge', title: 'assignee' }, `→ ${a.assignee}`) : null,
        h('span', { class: 'spacer' }),
        h(
          'span',
          { class: 'muted alert-counts' },
          h('b', { class: 'alert-count-n' }, String(a.count)),
          ` hit${a.count === 1 ? '' : 's'} · first `,
          when(a.firstSeen),
          ' · last ',
          when(a.lastSeen),
          ` (${age(a.lastSeen)} ago)`,
        ),
      ),
      h('p', { class: 'reason', 'data-testid': 'alert-reason' }, a.reason),
      a.suppression
        ? h(
            'p',
            { class: 'suppressed-note' },
            `Muted by a suppression of ${a.suppression.detector === '*' ? 'every detector' : detectorLabel(a.suppression.detector)} for ${a.suppression.scope} ${a.suppression.value} until ${time(a.suppression.expiresAt)} — ${a.suppression.reason} (${a.suppression.author})`,
          )
        : null,
    );

    const actions = mayTriage
      ? h(
          'div',
          { class: 'actions', role: 'toolbar', 'aria-label': 'Triage' },
          ['a', 'r', 'f', 'o'].map((k) =>
            h(
              'button',
              {
                type: 'button',
                class: `btn ${k === 'r' ? 'btn-primary' : ''}`,
                disabled: a.status === ACTIONS[k].status,
                'data-action': ACTIONS[k].status,
                onclick: () => setStatus(k),
              },
              ACTIONS[k].label,
              ' ',
              kbd(k),
            ),
          ),
          h('span', { class: 'sep' }),
          assignForm(a),
          h('span', { class: 'spacer' }),
          h('button', { type: 'button', class: 'btn', onclick: () => suppressDialog(a) }, 'Suppress…'),
          deliveries ? h('button', { type: 'button', class: 'btn btn-danger', onclick: () => revokeDialog(a) }, 'Revoke…') : null,
        )
      : h(
          'div',
          { class: 'actions readonly', 'data-testid': 'read-only' },
          'Read only: this key has the viewer role. Triage needs an analyst key.',
        );

    const evidence = panel(
      `Evidence (${a.evidence.length}${a.count > a.evidence.length ? ` latest of ${a.count}` : ''})`,
      a.evidence.length === 0
        ? empty('No evidence stored.')
        : h(
            'table',
            { class: 'grid evidence', 'data-testid': 'evidence' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                h('th', null, 'Time'),
                h('th', null, 'Agent'),
                h('th', null, 'Target'),
                h('th', null, 'Action'),
                h('th', null, 'Scopes'),
                h('th', null, 'Resource'),
                h('th', null, 'Env'),
                h('th', null, 'Trace / span'),
              ),
            ),
            h(
              'tbody',
              null,
              [...a.evidence]
                .sort((x, y) => Date.parse(x.time) - Date.parse(y.time))
                .map((e) => {
                  const ids = h(
                    'td',
                    { class: 'mono ids', title: `trace ${e.traceId}\nspan ${e.spanId}` },
                    `${e.traceId.slice(0, 8)}…/${e.spanId.slice(0, 8)}`,
                  );
                  if (e.use) {
                    const u = e.use;
                    return h(
                      'tr',
                      null,
                      h('td', { title: fullTime(e.time) }, time(e.time)),
                      h(
                        'td',
                        null,
                        mark(u.agentId),
                        u.caller && u.caller !== u.agentId ? h('div', { class: 'sub muted' }, u.caller) : null,
                      ),
                      h('td', null, mark(u.target)),
                      h('td', null, u.tool && deviating.has(u.tool) ? mark(u.tool) : u.action),
                      h(
                        'td',
                        null,
                        u.scopes.length
                          ? u.scopes.map((s) => h('span', { class: deviating.has(s) ? 'chip chip-deviation' : 'chip' }, s))
                          : h('span', { class: 'muted' }, '—'),
                      ),
                      h('td', { class: 'wrap' }, mark(u.resource)),
                      h('td', null, mark(u.environment)),
                      ids,
                    );
                  }
                  const ev = e.tokenEvent ?? e.taskEvent;
                  return h(
                    'tr',
                    { class: 'lifecycle' },
                    h('td', { title: fullTime(e.time) }, time(e.time)),
                    h(
                      'td',
                      { colspan: 6 },
                      ev
                        ? `${e.tokenEvent ? 'token' : 'task'} ${ev.event}: ${e.tokenEvent ? e.tokenEvent.tokenId : e.taskEvent.taskId}${ev.agentId ? ` (agent ${ev.agentId})` : ''}`
                        : h('span', { class: 'muted' }, 'span not in the store (expired by retention, or never stored)'),
                    ),
                    ids,
                  );
                }),
            ),
          ),
    );

    const details = panel(
      'Details',
      h(
        'dl',
        { class: 'facts' },
        field('Detector', h('span', { class: 'mono' }, a.detector)),
        field('Token', tokenLink(a.tokenId)),
        field('Session root', a.rootTokenId !== a.tokenId ? tokenLink(a.rootTokenId) : h('span', { class: 'muted' }, 'this token')),
        field('Agent', agentLink(a.agentId)),
        field('Task', a.taskId ? h('span', { class: 'mono' }, a.taskId) : ''),
        field('Caller', a.caller),
        field('Target', a.target),
        field('Environment', a.environment),
        field('Assignee', a.assignee ?? ''),
        field(
          'Frameworks',
          h(
            'div',
            { class: 'chips' },
            a.frameworks.map((f) => chip(f, 'chip-framework')),
          ),
        ),
      ),
    );

    const notes = panel(
      `Notes (${a.notes.length})`,
      h(
        'ol',
        { class: 'notes', 'data-testid': 'notes' },
        a.notes.length === 0
          ? h('li', { class: 'muted' }, 'No notes yet.')
          : a.notes.map((n) =>
              h(
                'li',
                null,
                h('div', { class: 'note-meta muted' }, h('span', { class: 'mono' }, n.author), ' · ', when(n.time)),
                h('div', { class: 'note-text' }, n.text),
              ),
            ),
      ),
      mayTriage
        ? h(
            'form',
            {
              class: 'note-form',
              onsubmit: async (e) => {
                e.preventDefault();
                const text = note()?.value.trim();
                if (!text) return;
                if (await triage(id, { note: text }, 'Note added')) await reload();
              },
            },
            h('textarea', {
              id: 'note',
              class: 'input',
              rows: 3,
              placeholder: 'Add a note for the next analyst…  ( n )',
              'aria-label': 'Note',
            }),
            h('button', { type: 'submit', class: 'btn' }, 'Add note'),
          )
        : null,
    );

    const history = panel(
      'History',
      h(
        'ol',
        { class: 'history', 'data-testid': 'history' },
        [...a.history]
          .reverse()
          .map((ev) =>
            h(
              'li',
              { class: `hist hist-${ev.action}` },
              h('div', { class: 'hist-meta muted' }, when(ev.time), ' · ', h('span', { class: 'mono' }, ev.actor)),
              h(
                'div',
                null,
                ev.action === 'note'
                  ? h(
                      'span',
                      null,
                      'note: ',
                      h('span', { class: 'muted' }, ev.detail.length > 120 ? `${ev.detail.slice(0, 120)}…` : ev.detail),
                    )
                  : ev.action === 'raised'
                    ? 'raised'
                    : ev.detail,
              ),
            ),
          ),
      ),
    );

    replace(
      page,
      header,
      actions,
      h(
        'div',
        { class: 'columns' },
        h(
          'div',
          { class: 'col-main' },
          panel('Intent vs actual', intentVsActual(a.intentVsActual, { grant: a.grant, task: a.task, lifetime: a.lifetime })),
          evidence,
        ),
        h(
          'div',
          { class: 'col-side' },
          details,
          a.guide ? guidePanel(a.guide) : null,
          deliveries ? responsePanel(deliveries) : null,
          notes,
          history,
        ),
      ),
    );
  }

  /** The detector's own advice: what it looks for, what to check, what is usually benign. @param {any} g */
  function guidePanel(g) {
    const list = (items) =>
      h(
        'ol',
        { class: 'guide-list' },
        items.map((x) => h('li', null, x)),
      );
    return panel(
      'Runbook',
      h('p', { class: 'guide-desc muted' }, g.description),
      g.runbook.length ? h('details', { class: 'guide', open: true }, h('summary', null, 'What to check'), list(g.runbook)) : null,
      g.falsePositives.length
        ? h('details', { class: 'guide' }, h('summary', null, `Benign causes (${g.falsePositives.length})`), list(g.falsePositives))
        : null,
      g.tuning.length ? h('details', { class: 'guide' }, h('summary', null, 'Tuning'), list(g.tuning)) : null,
    );
  }

  /** @param {any[]} all revoke requests and Shared Signals events of this alert */
  function responsePanel(all) {
    // Shared Signals deliveries are recorded beside revoke requests, under the policy id ssf:<stream_id>.
    const list = all.filter((r) => !r.policyId.startsWith('ssf:'));
    const sets = all.filter((r) => r.policyId.startsWith('ssf:'));
    return panel(
      `Response (${all.length})`,
      list.length === 0
        ? h('p', { class: 'muted' }, 'No revoke requested. A policy may act on its own, or an analyst can revoke from here.')
        : h(
            'ol',
            { class: 'history', 'data-testid': 'deliveries' },
            list.map((r) =>
              h(
                'li',
                { class: `hist delivery-${r.status}` },
                h('div', { class: 'hist-meta muted' }, when(r.createdAt), ' · ', h('span', { class: 'mono' }, r.requestedBy)),
                h(
                  'div',
                  null,
                  h('b', null, `revoke ${r.mode}`),
                  ` via ${r.policyId} — `,
                  h('span', { class: `delivery-status ds-${r.status}` }, r.status),
                  r.dryRun ? ' (dry run)' : '',
                  r.attempts ? ` · ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}` : '',
                ),
                // One request per token: its token and how it stands to the alert's. Requests made
                // before that listed a whole lineage at once.
                r.token
                  ? h(
                      'div',
                      { class: 'chips', 'data-testid': 'delivery-token' },
                      h('span', { class: 'chip' }, r.token),
                      r.relation ? h('span', { class: 'muted' }, ` ${RELATION_NAMES[r.relation] ?? r.relation}`) : null,
                    )
                  : r.tokens?.length
                    ? h(
                        'div',
                        { class: 'chips' },
                        r.tokens.slice(0, 6).map((t) => h('span', { class: 'chip' }, t)),
                      )
                    : null,
                r.lastError ? h('div', { class: 'sub deviation' }, r.lastError) : null,
              ),
            ),
          ),
      sets.length === 0
        ? null
        : h(
            'div',
            null,
            h('h4', { class: 'sub-head' }, `Shared Signals (${sets.length})`),
            h(
              'ol',
              { class: 'history', 'data-testid': 'ssf-deliveries' },
              sets.map((r) =>
                h(
                  'li',
                  { class: `hist delivery-${r.status}` },
                  h('div', { class: 'hist-meta muted' }, when(r.createdAt), ' · ', h('span', { class: 'mono' }, r.requestedBy)),
                  h(
                    'div',
                    null,
                    h('b', null, SSF_EVENT_NAMES[r.dedupKey.split(':')[0]] ?? 'event'),
                    ' to stream ',
                    h('span', { class: 'mono' }, r.policyId.slice(4, 12)),
                    ' — ',
                    h('span', { class: `delivery-status ds-${r.status}` }, r.status === 'awaiting_poll' ? 'awaiting poll' : r.status),
                    r.dryRun ? ' (dry run)' : '',
                    r.attempts ? ` · ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}` : '',
                  ),
                  r.tokenId ? h('div', { class: 'chips' }, h('span', { class: 'chip' }, r.tokenId)) : null,
                  r.lastError ? h('div', { class: 'sub deviation' }, r.lastError) : null,
                ),
              ),
            ),
          ),
    );
  }

  async function revokeDialog(a) {
    let policies = [];
    try {
      policies = (await api.policies()).policies.filter((p) => p.enabled);
    } catch (e) {
      toast(e instanceof ApiError ? e.message : String(e), 'error');
      return;
    }
    if (policies.length === 0) {
      toast('No enabled revoke policy: an admin adds one under /v1/responders/policies.', 'error');
      return;
    }
    const policy = h(
      'select',
      { class: 'input', name: 'policy' },
      policies.map((p) =>
        h('option', { value: p.id }, `${p.id}${p.dryRun ? ' (dry run)' : ''} — ${p.description || p.endpoint?.url || ''}`),
      ),
    );
    const mode = h(
      'select',
      { class: 'input', name: 'mode' },
      [
        ['token', `this token only (${a.tokenId})`],
        ['session', `the whole session (root ${a.rootTokenId}) and every token delegated from it`],
        ['chain', 'the whole delegation chain, from its origin down'],
      ].map(([v, label]) => h('option', { value: v, selected: v === policies[0].revoke }, label)),
    );
    policy.addEventListener('change', () => {
      const p = policies.find((x) => x.id === /** @type {HTMLSelectElement} */ (policy).value);
      if (p) /** @type {HTMLSelectElement} */ (mode).value = p.revoke;
    });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const dialog = h(
      'div',
      { class: 'overlay', role: 'dialog', 'aria-label': 'Revoke' },
      h(
        'form',
        {
          class: 'dialog',
          onsubmit: async (e) => {
            e.preventDefault();
            try {
              const { revocation, revocations = [revocation] } = await api.revoke(id, {
                policyId: /** @type {HTMLSelectElement} */ (policy).value,
                mode: /** @type {HTMLSelectElement} */ (mode).value,
              });
              dialog.remove();
              const n = revocations.length;
              toast(
                `Revoke requested for ${n} token${n === 1 ? '' : 's'}, one request each: ${revocation.status}${revocation.dryRun ? ' (dry run)' : ''}`,
                'ok',
              );
              await reload();
            } catch (err) {
              error.textContent = err instanceof ApiError ? err.message : String(err);
            }
          },
        },
        h('h2', null, 'Revoke'),
        h(
          'p',
          { class: 'muted' },
          'Sends a signed revoke webhook to the policy’s endpoint (the token broker), retried until it is delivered.',
        ),
        h('label', null, 'Policy', policy),
        h('label', null, 'What', mode),
        error,
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { type: 'button', class: 'btn', onclick: () => dialog.remove() }, 'Cancel'),
          h('button', { type: 'submit', class: 'btn btn-danger' }, 'Revoke'),
        ),
      ),
    );
    document.body.append(dialog);
    /** @type {HTMLSelectElement} */ (policy).focus();
  }

  function assignForm(a) {
    const input = h('input', { class: 'input assignee-input', placeholder: 'assignee', value: a.assignee ?? '', 'aria-label': 'Assignee' });
    return h(
      'form',
      {
        class: 'assign-form',
        onsubmit: async (e) => {
          e.preventDefault();
          const who = /** @type {HTMLInputElement} */ (input).value.trim();
          if ((who || null) === a.assignee) return;
          if (await triage(id, { assignee: who || null }, who ? `Assigned to ${who}` : 'Unassigned')) await reload();
        },
      },
      input,
      h('button', { type: 'submit', class: 'btn' }, 'Assign'),
    );
  }

  function suppressDialog(a) {
    const options = [
      ['agent', a.agentId, `agent ${a.agentId}`],
      ['token', a.rootTokenId, `token session ${a.rootTokenId}`],
      ['target', a.target, `target ${a.target}`],
      ['environment', a.environment, `environment ${a.environment}`],
    ].filter(([, v]) => v);
    const scope = h(
      'select',
      { class: 'input', name: 'scope' },
      options.map(([s, v, label]) => h('option', { value: `${s}\u0000${v}` }, label)),
    );
    const duration = h(
      'select',
      { class: 'input', name: 'duration' },
      [
        [3600, '1 hour'],
        [8 * 3600, '8 hours'],
        [86400, '24 hours'],
        [7 * 86400, '7 days'],
        [30 * 86400, '30 days'],
      ].map(([s, label]) => h('option', { value: s, selected: s === 86400 }, label)),
    );
    const every = h('input', { type: 'checkbox', name: 'every' });
    const reason = h('textarea', {
      class: 'input',
      rows: 3,
      required: true,
      placeholder: 'Why is this expected? (kept with the suppression)',
    });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const dialog = h(
      'div',
      { class: 'overlay', role: 'dialog', 'aria-label': 'Suppress' },
      h(
        'form',
        {
          class: 'dialog',
          onsubmit: async (e) => {
            e.preventDefault();
            const [s, v] = /** @type {HTMLSelectElement} */ (scope).value.split('\u0000');
            try {
              await api.suppress({
                detector: /** @type {HTMLInputElement} */ (every).checked ? '*' : a.detector,
                scope: s,
                value: v,
                reason: /** @type {HTMLTextAreaElement} */ (reason).value.trim(),
                expiresAt: new Date(Date.now() + Number(/** @type {HTMLSelectElement} */ (duration).value) * 1000).toISOString(),
              });
              dialog.remove();
              toast('Suppressed: matching open alerts leave the queue until it expires', 'ok');
              await reload();
            } catch (err) {
              error.textContent = err instanceof ApiError ? err.message : String(err);
            }
          },
        },
        h('h2', null, `Suppress ${detectorLabel(a.detector)}`),
        h('p', { class: 'muted' }, 'Detections are still recorded and counted; open alerts it matches leave the queue until it expires.'),
        h('label', null, 'For ', scope),
        h('label', null, 'For ', duration),
        h('label', { class: 'check' }, every, ' every detector, not only this one'),
        h('label', null, 'Reason', reason),
        error,
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { type: 'button', class: 'btn', onclick: () => dialog.remove() }, 'Cancel'),
          h('button', { type: 'submit', class: 'btn btn-primary' }, 'Suppress'),
        ),
      ),
    );
    document.body.append(dialog);
    /** @type {HTMLTextAreaElement} */ (reason).focus();
  }

  draw();
  const timer = setInterval(() => {
    const typing = document.activeElement instanceof HTMLInputElement || document.activeElement instanceof HTMLTextAreaElement;
    if (!typing && !document.querySelector('.overlay') && document.visibilityState === 'visible') reload().catch(() => undefined);
  }, 15_000);

  return {
    dispose: () => clearInterval(timer),
    /** @param {KeyboardEvent} e */
    onKey(e) {
      if (e.key in ACTIONS) {
        setStatus(e.key);
        return true;
      }
      if (e.key === 'n') {
        if (!mayTriage) denyTriage();
        else note()?.focus();
        return true;
      }
      if (e.key === 'Escape') {
        ctx.navigate(queueHash());
        return true;
      }
      return false;
    },
  };
}
