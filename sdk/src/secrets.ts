import { createHash } from 'node:crypto';

/**
 * Token fingerprints and secret detection, as CONVENTIONS.md §1.1 defines them. The collector
 * applies the same rules again at ingest (`core/src/conventions/secrets.ts`); this copy exists so
 * that agents need no part of the monitor. `secrets-agree.test.ts` checks that both agree on every
 * vector and on generated credentials of each format, so keep the two in step.
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

/** An Authorization header value: the scheme, then the credential. */
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

/** Values shorter than this are never treated as secrets (no known format is shorter). */
const MIN_SECRET_LENGTH = 16;

/** Prefix of every hash fingerprint. */
export const FINGERPRINT_PREFIX = 'sha256:';

/**
 * Words after "Bearer"/"Token"/"Basic" are a credential only when they look generated: a digit,
 * or upper case after the first letter. "Basic authentication" stays readable.
 */
function looksGenerated(s: string): boolean {
  return /[0-9]/.test(s) || (/[A-Z]/.test(s.slice(1)) && /[a-z]/.test(s));
}

/**
 * The stable identity of a credential, safe to export: the `jti` claim when the token is a JWT
 * that has one (at most 256 characters), else `sha256:` followed by the lower-case hex SHA-256 of
 * the token's UTF-8 bytes. An `Authorization` header value is fingerprinted by its credential, so
 * `tokenFingerprint('Bearer abc') === tokenFingerprint('abc')`. Pure and constant: the same token
 * always gives the same value, in any process, in the SDK and in the collector.
 *
 * @example
 * tokenFingerprint('abc') // 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 */
export function tokenFingerprint(secret: string): string {
  const bearer = BEARER.exec(secret);
  const token = bearer ? (bearer[1] as string) : secret;
  const jti = jwtId(token);
  if (jti) return jti;
  return `${FINGERPRINT_PREFIX}${createHash('sha256').update(token, 'utf8').digest('hex')}`;
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
 * True when the whole of `value` is a raw credential: an `Authorization` header value, a JWT, or a
 * well-known key format (AWS, GitHub, GitLab, Slack, OpenAI/Anthropic, Stripe, Google, Vault,
 * npm, PEM private keys).
 */
export function looksLikeSecret(value: string): boolean {
  if (value.length < MIN_SECRET_LENGTH || value.startsWith(FINGERPRINT_PREFIX)) return false;
  const bearer = BEARER.exec(value);
  if (bearer) return looksGenerated(bearer[1] as string) && !(bearer[1] as string).startsWith(FINGERPRINT_PREFIX);
  return WHOLE_FORMAT.test(value);
}

/**
 * `text` with every credential in it replaced by its fingerprint, and how many were replaced.
 * A value that is wholly a secret becomes its fingerprint; a secret inside longer text (a URL's
 * `access_token=`, an error message quoting a header) is replaced where it stands.
 *
 * @example
 * redactText('GET /x?access_token=abc123def456ghi789') // { text: 'GET /x?access_token=sha256:…', count: 1 }
 */
export function redactText(text: string): { text: string; count: number } {
  if (text.length < MIN_SECRET_LENGTH) return { text, count: 0 };
  if (looksLikeSecret(text)) return { text: tokenFingerprint(text), count: 1 };
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
        return tokenFingerprint(format);
      }
      const prefix = scheme ?? parameter ?? userinfo ?? '';
      const credential = schemeCredential ?? parameterCredential ?? password ?? '';
      if (scheme && !looksGenerated(credential)) return match;
      // Already a fingerprint (redacted once by the agent's SDK): stays as it is.
      if (userinfo && credential.startsWith('sha256:')) return match;
      count++;
      return prefix + tokenFingerprint(credential);
    },
  );
  return { text: out, count };
}
