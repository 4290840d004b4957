import { createHash } from 'node:crypto';
/** A value as attributes hold it after decoding (OTLP AnyValue, or a JSON event's value). */
export type RedactableValue = string | number | boolean | null | RedactableValue[] | { [key: string]: RedactableValue };

/**
 * Secret detection and fingerprinting. A token's identity in intentwatch is its fingerprint
 * (CONVENTIONS.md §1.1): the JWT `jti` when the token is a JWT that has one, else `sha256:` and
 * the hex SHA-256 of the token's bytes. The agent SDK and the collector both compute it with
 * this module, so a secret that slips through an agent's instrumentation and is
 * replaced by the collector still names the same token.
 */

/** Well-known credential formats, unanchored: each is found as a whole value or inside text. */
const SECRET_FORMATS: string[] = [
  'eyJ[A-Za-z0-9_-]{5,}\\.eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]*', // JWT (JWS compact)
  '(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}', // AWS access key id
  'gh[pousr]_[A-Za-z0-9]{36,}', // GitHub tokens
  'github_pat_[A-Za-z0-9_]{40,}',
  'glpat-[A-Za-z0-9_-]{20,}', // GitLab
  'xox[abposr]-[A-Za-z0-9-]{10,}', // Slack
  'sk-(?:proj-|ant-|live-)?[A-Za-z0-9_-]{20,}', // OpenAI / Anthropic style API keys
  '(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}', // Stripe
  'AIza[0-9A-Za-z_-]{35}', // Google API key
  'ya29\\.[0-9A-Za-z_-]{20,}', // Google OAuth access token
  'hv[sb]\\.[A-Za-z0-9_-]{20,}', // Vault tokens
  'npm_[A-Za-z0-9]{36}',
  '-----BEGIN [A-Z ]*PRIVATE KEY-----(?:[\\s\\S]*?-----END [A-Z ]*PRIVATE KEY-----|[\\s\\S]*)',
];

const WHOLE_FORMAT = new RegExp(`^(?:${SECRET_FORMATS.join('|')})$`);

/** An Authorization header value (or the same words in a log line): the scheme, then the credential. */
const BEARER = /^\s*(?:bearer|token|basic)\s+(\S+)\s*$/i;
const SCHEME = '(?:[Bb]earer|BEARER|[Bb]asic|BASIC|[Tt]oken|TOKEN)';
/** OAuth and API-key query or form parameters whose value is a credential. */
const PARAMETER = '(?:access_token|refresh_token|id_token|client_secret|api_key|apikey|password)';
const CREDENTIAL = '[A-Za-z0-9._~+/=-]{12,}';

/**
 * The password of a URL's userinfo (`https://user:password@host`): groups 6 (up to the colon) and
 * 7. Bounded, so that no text makes the scan quadratic.
 */
const USERINFO = '\\b([A-Za-z][A-Za-z0-9+.-]{0,31}://[^\\s/?#@:]{0,256}:)([^\\s/?#@]{1,512})(?=@)';

/**
 * One pass over text finds, at each position, a known format (group 1), a scheme followed by a
 * credential (groups 2, 3), a credential parameter (groups 4, 5) or a URL's password (6, 7) — one pass, so a replaced
 * value is never looked at twice.
 */
const SECRET_IN_TEXT = new RegExp(
  `(?<![A-Za-z0-9_-])(${SECRET_FORMATS.join('|')})(?![A-Za-z0-9_-])` +
    `|\\b(${SCHEME}\\s+)(${CREDENTIAL})(?![A-Za-z0-9._~+/=-])` +
    `|\\b(${PARAMETER}=)(${CREDENTIAL})(?![A-Za-z0-9._~+/=-])` +
    `|${USERINFO}`,
  'g',
);

/** Prefix of every hash fingerprint. */
export const FINGERPRINT_PREFIX = 'sha256:';

/** Values shorter than this are never treated as secrets (no known format is shorter). */
const MIN_SECRET_LENGTH = 16;

/**
 * Words after "Bearer"/"Token"/"Basic" are a credential only when they look generated: a digit,
 * or upper case after the first letter. "Basic authentication" stays readable.
 */
function looksGenerated(s: string): boolean {
  return /[0-9]/.test(s) || (/[A-Z]/.test(s.slice(1)) && /[a-z]/.test(s));
}

/** True when the whole of `value` is a raw credential (or an Authorization header value). */
export function looksLikeSecret(value: string): boolean {
  if (value.length < MIN_SECRET_LENGTH || value.startsWith('sha256:')) return false;
  const bearer = BEARER.exec(value);
  if (bearer) return looksGenerated(bearer[1] as string) && !(bearer[1] as string).startsWith('sha256:');
  return WHOLE_FORMAT.test(value);
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
  if (text.length < MIN_SECRET_LENGTH) return { text, count: 0 };
  if (looksLikeSecret(text)) return { text: fingerprint(text), count: 1 };
  let count = 0;
  const out = text.replace(
    SECRET_IN_TEXT,
    (
      match: string,
      format?: string,
      scheme?: string,
      schemeCredential?: string,
      parameter?: string,
      parameterCredential?: string,
      userinfo?: string,
      password?: string,
    ) => {
      if (format) {
        count++;
        return fingerprint(format);
      }
      const prefix = scheme ?? parameter ?? userinfo ?? '';
      const credential = schemeCredential ?? parameterCredential ?? password ?? '';
      if (scheme && !looksGenerated(credential)) return match;
      // Already a fingerprint (redacted once by the agent's SDK): stays as it is.
      if (userinfo && credential.startsWith('sha256:')) return match;
      count++;
      return prefix + fingerprint(credential);
    },
  );
  return { text: out, count };
}

/**
 * Attribute names whose value is a credential whatever it looks like — an opaque API key, a
 * cookie, a password has no format to recognise: the HTTP headers that carry one
 * (`http.request.header.authorization`, `…cookie`, `…x-api-key`) and names of secrets
 * (`aws.secret_access_key`, `db.password`). Matched on the last dot-separated part of the name,
 * so `token.id` and the other intentwatch attributes never match.
 */
const CREDENTIAL_NAME =
  /^(?:x-)?(?:(?:proxy-)?authorization|(?:set-)?cookie|api[-_]?key|(?:auth|access|refresh|id|session|security)[-_]?token|client[-_]?secret|secret(?:[-_]?access)?[-_]?key|secret|password|passwd|private[-_]?key|credentials?)$/i;

/** True when an attribute of this name holds a credential, whatever its value looks like. */
export function namesCredential(key: string): boolean {
  return CREDENTIAL_NAME.test(key.slice(key.lastIndexOf('.') + 1));
}

/**
 * Replaces every secret (whole values, and secrets inside longer text) in attribute values at
 * any depth with its fingerprint, in place; the value of an attribute whose name says it is a
 * credential ({@link namesCredential}) is replaced whole. Returns how many secrets were replaced.
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
      for (const k of Object.keys(v)) v[k] = visit(v[k] as RedactableValue, credential || namesCredential(k));
      return v;
    }
    return v;
  };
  for (const k of Object.keys(attrs)) attrs[k] = visit(attrs[k] as RedactableValue, namesCredential(k));
  return count;
}

/** The SDK's name for {@link fingerprint}: the identity of a credential, safe to export. */
export const tokenFingerprint = fingerprint;
