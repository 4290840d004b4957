import { createHash } from 'node:crypto';
/** A value as attributes hold it after decoding (OTLP AnyValue, or a JSON event's value). */
export type RedactableValue = string | number | boolean | null | RedactableValue[] | { [key: string]: RedactableValue };

/**
 * Secret detection and fingerprinting. A token's identity in intentwatch is its fingerprint
 * (docs/conventions.md §1.1): the JWT `jti` when the token is a JWT that has one, else `sha256:` and
 * the hex SHA-256 of the token's bytes. The agent SDK and the collector both compute it with
 * this module, so a secret that slips through an agent's instrumentation and is
 * replaced by the collector still names the same token.
 */

/*
 * Secrets in text are found by one left-to-right scan (linear in the text): at the start of each
 * run of word characters it tries the known credential formats (each a sticky regular expression
 * without nested or overlapping quantifiers, so it reads at most that run and, for a JWT, the two
 * runs after it); at the start of each name it looks for `name=value` (a credential parameter or
 * setting, any case) and `name: value` (a credential header inside text); at each `://` for a
 * URL's password. Every attempt reads only the runs it starts at, so no text makes it quadratic.
 */

/** Well-known credential formats, tried where a run of [A-Za-z0-9_-] starts; keyed by first character. */
const FORMATS: Record<string, RegExp[]> = {
  A: [/(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}/y, /AIza[0-9A-Za-z_-]{35}/y], // AWS access key id; Google API key
  g: [/gh[pousr]_[A-Za-z0-9]{36,}/y, /github_pat_[A-Za-z0-9_]{40,}/y, /glpat-[A-Za-z0-9_-]{20,}/y], // GitHub, GitLab
  x: [/xox[abposr]-[A-Za-z0-9-]{10,}/y], // Slack
  s: [/sk-[A-Za-z0-9_-]{20,}/y, /sk_(?:live|test)_[A-Za-z0-9]{16,}/y], // OpenAI / Anthropic style; Stripe
  r: [/rk_(?:live|test)_[A-Za-z0-9]{16,}/y], // Stripe restricted
  y: [/ya29\.[0-9A-Za-z_-]{20,}/y], // Google OAuth access token
  h: [/hv[sb]\.[A-Za-z0-9_-]{20,}/y], // Vault
  n: [/npm_[A-Za-z0-9]{36}/y],
};

/**
 * A JWT (JWS compact, or JWE's five parts): a base64url header that decodes to a JSON object —
 * which always starts with `e` (`{` is 0x7B), whatever follows (`{"` → `eyJ`, `{ "` → `eyA`) —
 * then dot-separated base64url parts. No part can hold a dot, so nothing overlaps.
 */
const JWT = /e[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)?/y;
const PEM_BEGIN = /-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----/y;
const PEM_END = /-----END [A-Z ]{0,40}PRIVATE KEY-----/y;

/** An Authorization header value (or the same words in a log line): the scheme, then the credential. */
const BEARER = /^\s*(?:bearer|token|basic)\s+(\S+)\s*$/i;
/** Words that introduce a credential ("Bearer …"); the credential must look generated. */
const SCHEMES = new Set(['bearer', 'basic', 'token']);

/**
 * Parameter and setting names whose value is a credential (`?Token=…`, `X-Amz-Signature=…`,
 * `Password=…;` in a connection string), matched in any case; names that
 * {@link namesCredential} recognises count too.
 */
const PARAMETERS = new Set([
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'code',
  'sig',
  'signature',
  'x-amz-security-token',
  'x-amz-signature',
  'x-amz-credential',
  'key',
  'api_key',
  'apikey',
  'secret',
  'client_secret',
  'password',
  'pwd',
]);

/** Prefix of every hash fingerprint. */
export const FINGERPRINT_PREFIX = 'sha256:';

/** Values shorter than this are never wholly a secret (no known format is shorter). */
const MIN_SECRET_LENGTH = 16;
/** Names longer than this are not looked up. */
const MAX_NAME_LENGTH = 64;
/** How far past `://` a URL's user and password may reach. */
const MAX_USERINFO = 768;

const WORD = new Uint8Array(128);
const NAME = new Uint8Array(128);
const CRED = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9_-]/.test(ch)) WORD[c] = 1;
  if (/[A-Za-z0-9_.-]/.test(ch)) NAME[c] = 1;
  if (/[A-Za-z0-9._~+/=-]/.test(ch)) CRED[c] = 1;
}
const isWord = (c: number) => c < 128 && WORD[c] === 1;
const isName = (c: number) => c < 128 && NAME[c] === 1;
const isCred = (c: number) => c < 128 && CRED[c] === 1;
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;
/** Where a parameter's value ends: space, a separator, a quote or a bracket. */
const ENDS_VALUE = new Set([...'&;,"\'<>#)]}|\\'].map((ch) => ch.charCodeAt(0)));

/**
 * Words after "Bearer"/"Token"/"Basic" are a credential only when they look generated: a digit,
 * or upper case after the first letter. "Basic authentication" stays readable.
 */
function looksGenerated(s: string): boolean {
  return /[0-9]/.test(s) || (/[A-Z]/.test(s.slice(1)) && /[a-z]/.test(s));
}

/** True when the header of a JWT candidate decodes to a JSON object. */
function jwtHeader(part: string): boolean {
  try {
    const header = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return typeof header === 'object' && header !== null && !Array.isArray(header);
  } catch {
    return false;
  }
}

const FORMATS_BY_CODE: (RegExp[] | undefined)[] = [];
for (const [first, res] of Object.entries(FORMATS)) FORMATS_BY_CODE[first.charCodeAt(0)] = res;

/** The end of a known format starting at `i` (a run start), or -1. */
function formatEnd(text: string, i: number): number {
  const code = text.charCodeAt(i);
  if (code === 101) {
    JWT.lastIndex = i;
    const m = JWT.exec(text);
    if (m && !isWord(text.charCodeAt(i + m[0].length)) && jwtHeader(m[0].slice(0, m[0].indexOf('.')))) return i + m[0].length;
  } else if (code === 45) {
    PEM_BEGIN.lastIndex = i;
    if (!PEM_BEGIN.test(text)) return -1;
    let at = text.indexOf('-----END ', PEM_BEGIN.lastIndex);
    while (at >= 0) {
      PEM_END.lastIndex = at;
      if (PEM_END.test(text)) return PEM_END.lastIndex;
      at = text.indexOf('-----END ', at + 1);
    }
    return text.length;
  }
  const formats = FORMATS_BY_CODE[text.charCodeAt(i)];
  if (formats === undefined) return -1;
  for (const re of formats) {
    re.lastIndex = i;
    const m = re.exec(text);
    if (m && !isWord(text.charCodeAt(i + m[0].length))) return i + m[0].length;
  }
  return -1;
}

/** The hash form of a fingerprint: what a credential found by its name is replaced with. */
function hashed(value: string): string {
  return `${FINGERPRINT_PREFIX}${createHash('sha256').update(value, 'utf8').digest('hex')}`;
}

interface Hit {
  start: number;
  end: number;
  replacement: string;
}

/** A value read from `v`: quoted (up to its closing quote) or up to a space or separator. */
function valueAt(text: string, v: number, stopAtAt: boolean): { start: number; end: number } {
  const q = text.charCodeAt(v);
  if (q === 34 || q === 39) {
    let e = v + 1;
    while (e < text.length && text.charCodeAt(e) !== q && text.charCodeAt(e) !== 10) e++;
    return { start: v + 1, end: e };
  }
  let e = v;
  while (e < text.length) {
    const c = text.charCodeAt(e);
    if (isSpace(c) || ENDS_VALUE.has(c) || (stopAtAt && c === 64)) break;
    // An encoded `&` ends a parameter inside an encoded URL.
    if (c === 37 && text.charCodeAt(e + 1) === 50 && (text.charCodeAt(e + 2) | 32) === 54) break;
    e++;
  }
  return { start: v, end: e };
}

/** A credential named at `i` (a name start): `name=value`, `name: value`, or `Bearer value`. */
function namedAt(text: string, i: number): Hit | undefined {
  let j = i;
  while (j < text.length && isName(text.charCodeAt(j))) j++;
  if (j - i > MAX_NAME_LENGTH) return undefined;
  // Most words are followed by none of = : % a quote, and are not a scheme: nothing to read.
  const next = text.charCodeAt(j);
  if (next !== 61 && next !== 58 && next !== 37 && next !== 34 && next !== 39 && !(isSpace(next) && j - i >= 5 && j - i <= 6)) {
    return undefined;
  }
  let name = text.slice(i, j);
  // `%26token%3D…`: the name of a parameter inside an encoded URL starts after the escape.
  if (text.charCodeAt(i - 1) === 37 && /^[0-9A-Fa-f]{2}./.test(name) && !isCredentialName(name)) name = name.slice(2);
  const lower = name.toLowerCase();
  let k = j;
  if (text.charCodeAt(k) === 34 || text.charCodeAt(k) === 39) k++; // "password": …
  const sep = text.charCodeAt(k);
  const encodedEq = sep === 37 && text.charCodeAt(k + 1) === 51 && (text.charCodeAt(k + 2) | 32) === 100;
  if ((sep === 61 || encodedEq) && isCredentialName(name)) {
    const { start, end } = valueAt(text, k + (encodedEq ? 3 : 1), false);
    return replaceValue(text, start, end);
  }
  // `name: value` as a header is written, or `"name": "value"` in JSON; `secret:read` (an OAuth
  // scope, a path) has neither space nor quote after the colon and is left alone.
  const after = text.charCodeAt(k + 1);
  if (sep === 58 && (after === 32 || after === 9 || after === 34 || after === 39) && namesCredential(name)) {
    let v = k + 1;
    while (v < text.length && (text.charCodeAt(v) === 32 || text.charCodeAt(v) === 9)) v++;
    if (text.charCodeAt(v) === 34 || text.charCodeAt(v) === 39) {
      const quoted = valueAt(text, v, false);
      return schemeFirst(text, quoted.start) ? undefined : replaceValue(text, quoted.start, quoted.end);
    }
    // "Authorization: Bearer …" is the scheme's to judge (it sees the credential next).
    if (schemeFirst(text, v)) return undefined;
    if (lower.endsWith('cookie')) {
      let e = v;
      while (e < text.length && text.charCodeAt(e) !== 10 && text.charCodeAt(e) !== 13 && text.charCodeAt(e) !== 34) e++;
      return replaceValue(text, v, e);
    }
    const { start, end } = valueAt(text, v, true);
    return replaceValue(text, start, end);
  }
  if (SCHEMES.has(lower) && j === k && isSpace(sep)) {
    let v = j;
    while (v < text.length && isSpace(text.charCodeAt(v))) v++;
    let e = v;
    while (e < text.length && isCred(text.charCodeAt(e))) e++;
    const credential = text.slice(v, e);
    if (e - v >= 12 && looksGenerated(credential) && !credential.startsWith(FINGERPRINT_PREFIX)) {
      return { start: v, end: e, replacement: fingerprint(credential) };
    }
  }
  return undefined;
}

/** True when a scheme word ("Bearer") starts at `v` and is followed by a space. */
function schemeFirst(text: string, v: number): boolean {
  let e = v;
  while (e < text.length && e - v < 8 && isName(text.charCodeAt(e))) e++;
  return SCHEMES.has(text.slice(v, e).toLowerCase()) && isSpace(text.charCodeAt(e));
}

function replaceValue(text: string, start: number, end: number): Hit | undefined {
  if (end <= start) return undefined;
  const value = text.slice(start, end);
  if (value.startsWith(FINGERPRINT_PREFIX)) return undefined;
  return { start, end, replacement: hashed(value) };
}

function isCredentialName(name: string): boolean {
  return PARAMETERS.has(name.toLowerCase()) || namesCredential(name);
}

/** The password of `scheme://user:password@host`, for the `://` ending just before `from`. */
function userinfoAt(text: string, from: number): Hit | undefined {
  let colon = -1;
  for (let e = from; e < text.length && e - from < MAX_USERINFO; e++) {
    const c = text.charCodeAt(e);
    if (c === 64) {
      if (colon < 0 || e === colon + 1) return undefined;
      const password = text.slice(colon + 1, e);
      // Already a fingerprint (redacted once by the agent's SDK): stays as it is.
      if (password.startsWith(FINGERPRINT_PREFIX)) return undefined;
      return { start: colon + 1, end: e, replacement: fingerprint(password) };
    }
    if (c === 47 || c === 63 || c === 35 || isSpace(c)) return undefined;
    if (c === 58 && colon < 0) colon = e;
  }
  return undefined;
}

/**
 * What any secret needs somewhere in its text: a name's `=`, `:` or encoded `=`, or a run of 12
 * credential characters (every format and every scheme's credential has one). Text without
 * either — most attribute values — is not scanned at all. One class, one fixed count: linear.
 */
const MAYBE_SECRET = /[=:%]|-----BEGIN|[A-Za-z0-9._~+/-]{12}/;

/**
 * Where something can start: a separator (`=`, `:`, an encoded `=`), the prefix of a known
 * format where a run of word characters starts, or a scheme word and a space. Found by the
 * engine's own scan; the rules above then read only the runs around each. No quantifier here
 * overlaps what follows it (the `e…` run ends at a dot it cannot contain).
 */
const TRIGGER =
  /[=:]|%3[Dd]|(?<![A-Za-z0-9_-])(?:A(?:KIA|SIA|BIA|CCA|Iza)|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|[sr]k[-_]|ya29\.|hv[sb]\.|npm_|e[A-Za-z0-9_-]{10,}\.|-----BEGIN )|(?<![A-Za-z0-9_-])(?:[Bb][Ee][Aa][Rr][Ee][Rr]|[Bb][Aa][Ss][Ii][Cc]|[Tt][Oo][Kk][Ee][Nn])\s/g;

/** Every secret in `text`, left to right, none overlapping. */
function scan(text: string): Hit[] {
  const hits: Hit[] = [];
  let done = 0;
  // One shared expression (scan never runs inside itself): its position is reset each time.
  const trigger = TRIGGER;
  trigger.lastIndex = 0;
  for (let m = trigger.exec(text); m !== null; m = trigger.exec(text)) {
    const p = m.index;
    if (p < done) continue;
    const c = text.charCodeAt(p);
    let hit: Hit | undefined;
    if (c === 61 || c === 58 || c === 37) {
      // The name before the separator (and its closing quote, as in `"password":`).
      let end = p;
      const q = text.charCodeAt(p - 1);
      if (q === 34 || q === 39) end--;
      let start = end;
      while (start > done && end - start <= MAX_NAME_LENGTH && isName(text.charCodeAt(start - 1))) start--;
      if (start < end && !isName(text.charCodeAt(start - 1))) hit = namedAt(text, start);
      if (!hit && c === 58 && text.charCodeAt(p + 1) === 47 && text.charCodeAt(p + 2) === 47) hit = userinfoAt(text, p + 3);
    } else if (c !== 45 && isSpace(m[0].charCodeAt(m[0].length - 1))) {
      hit = namedAt(text, p);
    } else {
      const end = formatEnd(text, p);
      if (end > 0) hit = { start: p, end, replacement: fingerprint(text.slice(p, end)) };
    }
    if (hit) {
      hits.push(hit);
      done = hit.end;
      trigger.lastIndex = hit.end;
    }
  }
  return hits;
}

/** True when the whole of `value` is a raw credential (or an Authorization header value). */
export function looksLikeSecret(value: string): boolean {
  if (value.length < MIN_SECRET_LENGTH || value.startsWith(FINGERPRINT_PREFIX)) return false;
  const bearer = BEARER.exec(value);
  if (bearer) return looksGenerated(bearer[1] as string) && !(bearer[1] as string).startsWith(FINGERPRINT_PREFIX);
  return isWord(value.charCodeAt(0)) && formatEnd(value, 0) === value.length;
}

/**
 * The fingerprint of a credential: the `jti` of a JWT that has one, else `sha256:<hex>`.
 * An `Authorization` header value (`Bearer …`) is fingerprinted by its token.
 *
 * fingerprint('Bearer abc') === fingerprint('abc')
 */
export function fingerprint(secret: string): string {
  const bearer = BEARER.exec(secret);
  const token = bearer ? (bearer[1] as string) : secret;
  const jti = jwtId(token);
  if (jti) return jti;
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

function jwtId(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { jti?: unknown };
    return typeof payload.jti === 'string' && payload.jti.length > 0 && payload.jti.length <= 256 ? payload.jti : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `text` with every credential in it replaced by its fingerprint, and how many were replaced.
 * A value that is wholly a secret becomes its fingerprint; a secret inside longer text (a URL's
 * `access_token=`, an error message quoting a header) is replaced where it stands.
 *
 * redactText('Bearer abc123def456ghi789') → { text: 'sha256:…', count: 1 }
 * redactText('GET /x?access_token=abc123def456ghi789') → { text: 'GET /x?access_token=sha256:…', count: 1 }
 */
export function redactText(text: string): { text: string; count: number } {
  if (text.length < 5 || !MAYBE_SECRET.test(text)) return { text, count: 0 };
  if (looksLikeSecret(text)) return { text: fingerprint(text), count: 1 };
  const hits = scan(text);
  if (hits.length === 0) return { text, count: 0 };
  let out = '';
  let last = 0;
  for (const h of hits) {
    out += text.slice(last, h.start) + h.replacement;
    last = h.end;
  }
  return { text: out + text.slice(last), count: hits.length };
}

/**
 * Attribute names whose value is a credential whatever it looks like — an opaque API key, a
 * cookie, a password has no format to recognise: the HTTP headers that carry one
 * (`http.request.header.authorization`, `…cookie`, `…x-api-key`) and names of secrets
 * (`aws.secret_access_key`, `db.password`). Matched on the last dot-separated part of the name,
 * so `token.id` and the other intentwatch attributes never match.
 */
const CREDENTIAL_NAME =
  /^(?:x-)?(?:amz-)?(?:(?:proxy-)?authorization|(?:set-)?cookie|api[-_]?key|(?:auth|access|refresh|id|session|security)[-_]?token|client[-_]?secret|secret(?:[-_]?access)?[-_]?key|secret|password|passwd|pwd|private[-_]?key|credentials?)$/i;

/** True when an attribute of this name holds a credential, whatever its value looks like. */
export function namesCredential(key: string): boolean {
  return CREDENTIAL_NAME.test(key.slice(key.lastIndexOf('.') + 1));
}

/** Attribute names seen before: what they redact to, and whether they name a credential (names repeat on every span). */
const keyCache = new Map<string, { key: string; count: number; credential: boolean }>();
const KEY_CACHE_SIZE = 10_000;

/**
 * An attribute name with any secret in it replaced (a name is text a sender controls too), and
 * whether it names a credential ({@link namesCredential}). Names up to 256 characters are
 * remembered (at most 10,000 of them).
 */
export function redactKey(key: string): { key: string; count: number; credential: boolean } {
  let r = keyCache.get(key);
  if (!r) {
    const t = redactText(key);
    r = { key: t.text, count: t.count, credential: namesCredential(key) };
    if (key.length > 256) return r;
    if (keyCache.size >= KEY_CACHE_SIZE) keyCache.clear();
    keyCache.set(key, r);
  }
  return r;
}

/**
 * Replaces every secret (whole values, and secrets inside longer text) in attribute values and
 * names at any depth with its fingerprint, in place; the value of an attribute whose name says
 * it is a credential ({@link namesCredential}) is replaced whole. Returns how many secrets were
 * replaced.
 */
export function redactSecrets(attrs: Record<string, RedactableValue>): number {
  let count = 0;
  const visit = (v: RedactableValue, credential: boolean): RedactableValue => {
    if (typeof v === 'string') {
      if (credential && v !== '' && !v.startsWith('sha256:')) {
        count++;
        return fingerprint(v);
      }
      const r = redactText(v);
      count += r.count;
      return r.text;
    }
    if (credential && typeof v === 'number') {
      count++;
      return fingerprint(String(v));
    }
    if (Array.isArray(v)) return v.map((x) => visit(x, credential));
    if (v !== null && typeof v === 'object') {
      visitObject(v, credential);
      return v;
    }
    return v;
  };
  const visitObject = (o: Record<string, RedactableValue>, credential: boolean) => {
    for (const k of Object.keys(o)) {
      const named = redactKey(k);
      const value = visit(o[k] as RedactableValue, credential || named.credential);
      if (named.count > 0) {
        count += named.count;
        delete o[k];
      }
      o[named.key] = value;
    }
  };
  visitObject(attrs, false);
  return count;
}

/** The SDK's name for {@link fingerprint}: the identity of a credential, safe to export. */
export const tokenFingerprint = fingerprint;
