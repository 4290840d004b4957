/**
 * The REST API as the UI calls it: the key signed in with (kept in sessionStorage, so it ends
 * with the tab) goes out as a Bearer token; errors become ApiError with the API's code and
 * message; a 401 signs the user out.
 */

const KEY = 'intentwatch.apiKey';

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @type {(() => void) | null} */
let onUnauthorized = null;

export const session = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  /** @param {string} key */
  signIn(key) {
    sessionStorage.setItem(KEY, key);
  },
  signOut() {
    sessionStorage.removeItem(KEY);
  },
  /** @param {() => void} fn */
  onUnauthorized(fn) {
    onUnauthorized = fn;
  },
};

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {string} [key] a key to try instead of the stored one (sign-in)
 */
async function request(method, path, body, key) {
  const headers = { accept: 'application/json', authorization: `Bearer ${key ?? session.key ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'cannot reach the intentwatch API');
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data?.error?.code ?? 'http_error', data?.error?.message ?? `the API answered ${res.status}`);
    if (res.status === 401 && key === undefined && onUnauthorized) onUnauthorized();
    throw err;
  }
  return data;
}

/** @param {Record<string, string | number | boolean | undefined | null>} params */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '' && v !== false) u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

const enc = encodeURIComponent;

export const api = {
  /** @param {string} key */
  whoAmI: (key) => request('GET', '/v1/me', undefined, key),
  me: () => request('GET', '/v1/me'),
  alerts: (params) => request('GET', `/v1/alerts${qs(params)}`),
  summary: (params = {}) => request('GET', `/v1/alerts/summary${qs(params)}`),
  alert: (id) => request('GET', `/v1/alerts/${enc(id)}`),
  triage: (id, change) => request('PATCH', `/v1/alerts/${enc(id)}`, change),
  token: (id) => request('GET', `/v1/tokens/${enc(id)}`),
  agents: (params = {}) => request('GET', `/v1/agents${qs(params)}`),
  agent: (id) => request('GET', `/v1/agents/${enc(id)}`),
  suppressions: (all = false) => request('GET', `/v1/suppressions${qs({ all: all ? 'true' : undefined })}`),
  suppress: (body) => request('POST', '/v1/suppressions', body),
  lift: (id) => request('DELETE', `/v1/suppressions/${enc(id)}`),
  // Responders (revoke webhooks); absent when the deployment runs none.
  deliveries: (id) => request('GET', `/v1/alerts/${enc(id)}/deliveries`),
  policies: () => request('GET', '/v1/responders/policies'),
  revoke: (id, body) => request('POST', `/v1/alerts/${enc(id)}/revoke`, body),
};
