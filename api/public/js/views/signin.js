import { ApiError, api, session } from '../api.js';
import { h, replace } from '../dom.js';

/**
 * Sign-in with an API key. The key is checked against `GET /v1/me` before it is kept, and is
 * kept in sessionStorage only: closing the tab signs out.
 *
 * @param {{ root: HTMLElement, onSignedIn: (me: { name: string, role: 'viewer' | 'analyst' | 'admin' }) => void, message?: string }} ctx
 */
export function render({ root, onSignedIn, message }) {
  const input = h('input', {
    id: 'api-key',
    name: 'api-key',
    class: 'input',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'iw_…',
    required: true,
    'aria-describedby': 'signin-help',
  });
  const error = h('p', { class: 'form-error', role: 'alert' }, message ?? '');
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'signin',
      onsubmit: async (/** @type {SubmitEvent} */ e) => {
        e.preventDefault();
        const key = /** @type {HTMLInputElement} */ (input).value.trim();
        if (!key) return;
        button.setAttribute('disabled', '');
        error.textContent = '';
        try {
          const me = await api.whoAmI(key);
          session.signIn(key);
          onSignedIn(me);
        } catch (err) {
          error.textContent =
            err instanceof ApiError && err.status === 401
              ? 'That key is not valid.'
              : err instanceof ApiError && err.status === 429
                ? 'Too many attempts from this address; wait a minute.'
                : err instanceof Error
                  ? err.message
                  : String(err);
          button.removeAttribute('disabled');
          /** @type {HTMLInputElement} */ (input).select();
        }
      },
    },
    h('div', { class: 'signin-brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'intentwatch'),
    h('p', { class: 'muted' }, 'AI-agent access tokens used outside the task they were issued for.'),
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h(
      'p',
      { id: 'signin-help', class: 'hint' },
      'Keys are set with INTENTWATCH_API_KEYS (role:key), or printed once at first start. The key stays in this tab only.',
    ),
    error,
    button,
  );
  replace(root, h('div', { class: 'signin-page' }, form));
  /** @type {HTMLInputElement} */ (input).focus();
}
