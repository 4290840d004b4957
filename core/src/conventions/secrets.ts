import { createHash } from 'node:crypto';
import type { AttrValue, Attributes } from './attributes.js';

/**
 * Secret detection and fingerprinting. A token's identity in intentwatch is its fingerprint
 * (CONVENTIONS.md §1.1): the JWT `jti` when the token is a JWT that has one, else `sha256:` and
 * the hex SHA-256 of the token's bytes. The agent SDK computes the same value, so a secret
 * that slips through an agent's instrumentation and is replaced here still names the same token.
 */

/** Patterns of well-known credential formats. Each must match a whole value or a bearer's token. */
const SECRET_PATTERNS: RegExp[] = [
  /^eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*$/, // JWT (JWS compact)
  /^(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}$/, // AWS access key id
  /^gh[pousr]_[A-Za-z0-9]{36,}$/, // GitHub tokens
  /^github_pat_[A-Za-z0-9_]{40,}$/,
  /^glpat-[A-Za-z0-9_-]{20,}$/, // GitLab
  /^xox[abposr]-[A-Za-z0-9-]{10,}$/, // Slack
  /^sk-(?:proj-|ant-|live-)?[A-Za-z0-9_-]{20,}$/, // OpenAI / Anthropic style API keys
  /^(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}$/, // Stripe
  /^AIza[0-9A-Za-z_-]{35}$/, // Google API key
  /^ya29\.[0-9A-Za-z_-]{20,}$/, // Google OAuth access token
  /^hv[sb]\.[A-Za-z0-9_-]{20,}$/, // Vault tokens
  /^npm_[A-Za-z0-9]{36}$/,
  /^-----BEGIN [A-Z ]*PRIVATE KEY-----/,
];

const BEARER = /^\s*(?:bearer|token|basic)\s+(\S+)\s*$/i;

/** True when `value` looks like a raw credential (or an Authorization header value). */
export function looksLikeSecret(value: string): boolean {
  if (value.length < 16 || value.startsWith('sha256:')) return false;
  const bearer = BEARER.exec(value);
  if (bearer) return true;
  return SECRET_PATTERNS.some((p) => p.test(value));
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
 * Replaces every secret-looking attribute value (at any depth) with its fingerprint, in place.
 * Returns how many values were replaced.
 */
export function redactSecrets(attrs: Attributes): number {
  let count = 0;
  const visit = (v: AttrValue): AttrValue => {
    if (typeof v === 'string') {
      if (looksLikeSecret(v)) {
        count++;
        return fingerprint(v);
      }
      return v;
    }
    if (Array.isArray(v)) return v.map(visit);
    if (v !== null && typeof v === 'object') {
      for (const k of Object.keys(v)) v[k] = visit(v[k] as AttrValue);
      return v;
    }
    return v;
  };
  for (const k of Object.keys(attrs)) attrs[k] = visit(attrs[k] as AttrValue);
  return count;
}
