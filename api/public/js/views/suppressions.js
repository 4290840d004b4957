import { ApiError, api } from '../api.js';
import { detectorLabel, empty, fullTime, h, replace, time, toast } from '../dom.js';

/** Suppressions in force (or all of them): who muted what, why, until when; lift one early. */
export async function render(ctx) {
  let all = ctx.query.get('all') === 'true';
  const body = h('tbody');
  const toggle = h('input', { type: 'checkbox', checked: all });

  async function load() {
    const { suppressions } = await api.suppressions(all);
    if (!ctx.alive()) return;
    replace(
      body,
      suppressions.length
        ? suppressions.map((s) => {
            const mayLift = s.active && ctx.me && (ctx.me.role === 'admin' || (ctx.me.role === 'analyst' && ctx.me.name === s.author));
            return h(
              'tr',
              { class: s.active ? '' : 'inactive' },
              h('td', null, s.detector === '*' ? h('em', null, 'every detector') : detectorLabel(s.detector)),
              h('td', null, s.scope),
              h('td', { class: 'mono wrap' }, s.value),
              h('td', { class: 'wrap' }, s.reason),
              h('td', { class: 'mono' }, s.author),
              h('td', { title: fullTime(s.createdAt) }, time(s.createdAt)),
              h('td', { title: fullTime(s.expiresAt) }, s.deletedAt ? `lifted ${time(s.deletedAt)} by ${s.deletedBy}` : time(s.expiresAt)),
              h(
                'td',
                null,
                mayLift
                  ? h(
                      'button',
                      {
                        type: 'button',
                        class: 'btn btn-small',
                        onclick: async () => {
                          try {
                            await api.lift(s.id);
                            toast('Suppression lifted: its alerts are back in the queue', 'ok');
                            await load();
                          } catch (e) {
                            toast(e instanceof ApiError ? e.message : String(e), 'error');
                          }
                        },
                      },
                      'Lift',
                    )
                  : s.active
                    ? h('span', { class: 'muted' }, 'active')
                    : h('span', { class: 'muted' }, 'ended'),
              ),
            );
          })
        : h('tr', null, h('td', { colspan: 8 }, empty(all ? 'No suppression was ever made.' : 'No suppression is in force.'))),
    );
  }
  toggle.addEventListener('change', () => {
    all = /** @type {HTMLInputElement} */ (toggle).checked;
    ctx.setQuery(new URLSearchParams(all ? { all: 'true' } : {}));
    load();
  });
  replace(
    ctx.root,
    h(
      'div',
      { class: 'page' },
      h(
        'div',
        { class: 'page-head' },
        h('h1', null, 'Suppressions'),
        h('label', { class: 'check' }, toggle, ' include expired and lifted'),
        h('span', { class: 'muted' }, 'Create one from an alert (Suppress…). Muted detections are still recorded and counted.'),
      ),
      h(
        'div',
        { class: 'grid-wrap' },
        h(
          'table',
          { class: 'grid' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              ['Detector', 'Scope', 'Value', 'Reason', 'Author', 'Created', 'Until', ''].map((c) => h('th', null, c)),
            ),
          ),
          body,
        ),
      ),
    ),
  );
  await load();
}
