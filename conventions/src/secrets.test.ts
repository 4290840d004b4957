import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type RedactableValue, looksLikeSecret, redactSecrets, redactText, tokenFingerprint } from './index.js';

const sha = (s: string) => `sha256:${createHash('sha256').update(s, 'utf8').digest('hex')}`;
const jwt = (payload: object) =>
  `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.c2lnbmF0dXJlLWJ5dGVz`;

describe('tokenFingerprint', () => {
  it('is sha256: and the hex SHA-256 of the token bytes', () => {
    expect(tokenFingerprint('abc')).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(tokenFingerprint('naïve-token-ü')).toBe(sha('naïve-token-ü'));
  });

  it('fingerprints an Authorization header value by its credential, whatever the scheme case', () => {
    expect(tokenFingerprint('Bearer abc')).toBe(tokenFingerprint('abc'));
    expect(tokenFingerprint('  bearer   abc ')).toBe(tokenFingerprint('abc'));
    expect(tokenFingerprint('Basic dXNlcjpwYXNz')).toBe(tokenFingerprint('dXNlcjpwYXNz'));
  });

  it('is the jti of a JWT that has one, and the hash of one that has none', () => {
    expect(tokenFingerprint(jwt({ jti: 'tok-42', sub: 'agent' }))).toBe('tok-42');
    expect(tokenFingerprint(`Bearer ${jwt({ jti: 'tok-42' })}`)).toBe('tok-42');
    const noJti = jwt({ sub: 'agent' });
    expect(tokenFingerprint(noJti)).toBe(sha(noJti));
    const hugeJti = jwt({ jti: 'x'.repeat(257) });
    expect(tokenFingerprint(hugeJti)).toBe(sha(hugeJti));
  });

  it('hashes three-part values that are not JWTs instead of failing', () => {
    expect(tokenFingerprint('a.%%%.c')).toBe(sha('a.%%%.c'));
    expect(tokenFingerprint('v1.abc.def')).toBe(sha('v1.abc.def'));
  });
});

describe('looksLikeSecret', () => {
  it.each([
    ['a bearer header', 'Bearer 9f8e7d6c5b4a39281706'],
    ['a basic header', 'Basic dXNlcjpwYXNzd29yZA=='],
    ['a JWT', jwt({ jti: 'tok-1' })],
    ['an AWS access key id', 'AKIAIOSFODNN7EXAMPLE'],
    ['a GitHub token', `ghp_${'a1B2'.repeat(9)}`],
    ['a fine-grained GitHub token', `github_pat_${'A1_b'.repeat(11)}`],
    ['a GitLab token', 'glpat-abcdefghij0123456789'],
    ['a Slack token', 'xoxb-1234567890-abcdefghij'],
    ['an OpenAI project key', `sk-proj-${'Ab1'.repeat(10)}`],
    ['an Anthropic key', `sk-ant-${'Ab1'.repeat(10)}`],
    ['a Stripe key', 'sk_live_0123456789abcdefABCD'],
    ['a Google API key', `AIza${'B'.repeat(35)}`],
    ['a Google OAuth token', `ya29.${'a0'.repeat(15)}`],
    ['a Vault token', `hvs.${'CAESI'.repeat(5)}`],
    ['an npm token', `npm_${'a1'.repeat(18)}`],
    ['a PEM private key', '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----'],
  ])('recognises %s', (_name, value) => {
    expect(looksLikeSecret(value)).toBe(true);
  });

  it.each([
    ['short values', 'Bearer abc'],
    ['fingerprints', sha('x')],
    ['words after a scheme', 'Basic authentication'],
    ['a capitalised word after a scheme', 'Token Verification'],
    ['plain text', 'label new issues in acme/widgets'],
    ['a URL', 'https://api.github.com/repos/acme/widgets/issues'],
    ['an AWS-like id inside a longer word', 'XAKIAIOSFODNN7EXAMPLE'],
  ])('leaves %s alone', (_name, value) => {
    expect(looksLikeSecret(value)).toBe(false);
  });
});

describe('redactText', () => {
  it('turns a value that is wholly a secret into its fingerprint', () => {
    expect(redactText('Bearer 9f8e7d6c5b4a39281706')).toEqual({ text: sha('9f8e7d6c5b4a39281706'), count: 1 });
  });

  it('replaces secrets inside longer text where they stand', () => {
    const key = 'AKIAIOSFODNN7EXAMPLE';
    const token = jwt({ jti: 'tok-7' });
    const r = redactText(`upload failed for ${key}; retried with Authorization: Bearer ${token} (401)`);
    expect(r).toEqual({ text: `upload failed for ${sha(key)}; retried with Authorization: Bearer tok-7 (401)`, count: 2 });
  });

  it('replaces credentials in URL parameters and keeps the rest of the URL', () => {
    const r = redactText('https://api.example.com/v1/items?access_token=abc123def456ghi789&page=2');
    expect(r).toEqual({ text: `https://api.example.com/v1/items?access_token=${sha('abc123def456ghi789')}&page=2`, count: 1 });
  });

  it('leaves text without secrets untouched', () => {
    const text = 'Token refresh completed for session of triage-bot; basic checks passed';
    expect(redactText(text)).toEqual({ text, count: 0 });
  });

  it('never redacts a fingerprint again', () => {
    const once = redactText('Bearer 9f8e7d6c5b4a39281706').text;
    expect(redactText(once)).toEqual({ text: once, count: 0 });
    expect(redactText(`Bearer ${once}`).text).toBe(`Bearer ${once}`);
  });
});

describe('redactText, named carriers', () => {
  it('matches URL parameter names in any case, the usual carriers included', () => {
    const url =
      'https://bucket.s3.amazonaws.com/k?X-Amz-Credential=AKIDEXAMPLE%2F20261125&X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027&Token=t0k3n&sig=s1g&page=2';
    const r = redactText(url);
    expect(r.count).toBe(4);
    expect(r.text).toBe(
      `https://bucket.s3.amazonaws.com/k?X-Amz-Credential=${sha('AKIDEXAMPLE%2F20261125')}&X-Amz-Signature=${sha('fe5f80f77d5fa3beca038a248ff027')}&Token=${sha('t0k3n')}&sig=${sha('s1g')}&page=2`,
    );
  });

  it('finds a parameter inside a percent-encoded URL', () => {
    const r = redactText('next=https%3A%2F%2Fx%2Fcb%3Fcode%3Dsplx0b9%26state%3D1');
    expect(r.text).toBe(`next=https%3A%2F%2Fx%2Fcb%3Fcode%3D${sha('splx0b9')}%26state%3D1`);
  });

  it('replaces Password= and pwd= in connection strings', () => {
    expect(redactText('Server=db;User Id=sa;Password=hunter2;Encrypt=true').text).toBe(
      `Server=db;User Id=sa;Password=${sha('hunter2')};Encrypt=true`,
    );
    expect(redactText('DSN=x;PWD="a b;c"').text).toBe(`DSN=x;PWD="${sha('a b;c')}"`);
  });

  it('replaces x-api-key: and authorization: values inside free text', () => {
    expect(redactText('retry with x-api-key: k-77aa and hope').text).toBe(`retry with x-api-key: ${sha('k-77aa')} and hope`);
    expect(redactText('{"Authorization":"opaque123"}').text).toBe(`{"Authorization":"${sha('opaque123')}"}`);
    // With a scheme the credential is fingerprinted as the scheme rule does (a JWT by its jti).
    expect(redactText(`authorization: Bearer ${jwt({ jti: 'tok-9' })}`).text).toBe('authorization: Bearer tok-9');
  });

  it('recognises a JWT whatever its header and payload start with', () => {
    const spaced = [
      Buffer.from('{ "alg": "HS256" }').toString('base64url'),
      Buffer.from('{ "sub": "agent" }').toString('base64url'),
      'c2ln',
    ].join('.');
    expect(spaced.startsWith('eyA')).toBe(true);
    expect(looksLikeSecret(spaced)).toBe(true);
    expect(redactText(`jwt=${spaced}`).text).not.toContain(spaced.split('.')[1]);
    expect(redactText(`saw ${spaced} twice`).text).toBe(`saw ${sha(spaced)} twice`);
    // Dotted words that are not base64 JSON stay.
    expect(redactText('see example.environment.name for details').count).toBe(0);
  });

  it('leaves words that only look like names alone', () => {
    for (const text of [
      'the token expired',
      'Basic authentication',
      'SELECT id FROM tokens WHERE token_type = $1',
      'tokens=3 keys=2',
      'scopes secret:read password:write',
      '/v1/api-key:rotate',
    ]) {
      expect(redactText(text)).toEqual({ text, count: 0 });
    }
  });

  it('reads hostile text in one pass (long runs that start many partial matches)', () => {
    const n = 200_000;
    for (const text of [
      `e${'A'.repeat(n)}.`,
      'eyJhbGciOiJIUzI1NiJ9.'.repeat(n / 20),
      'a://'.repeat(n / 4),
      'token='.repeat(n / 6),
      'Bearer '.repeat(n / 7),
      `-----BEGIN RSA PRIVATE KEY-----${'-----END '.repeat(n / 9)}`,
      `${'x'.repeat(n)}:${'y'.repeat(n)}`,
      '%26'.repeat(n / 3),
    ]) {
      const r = redactText(text);
      expect(typeof r.text).toBe('string');
    }
  });
});

describe('redactSecrets', () => {
  it('replaces secrets in attribute names at any depth, and counts them', () => {
    const gh = `ghp_${'a1B2'.repeat(9)}`;
    const attrs: Record<string, RedactableValue> = { [`cache.${gh}`]: 'x', nested: { [`k ${gh}`]: [1] }, plain: 'y' };
    expect(redactSecrets(attrs)).toBe(2);
    expect(attrs).toEqual({ [`cache.${sha(gh)}`]: 'x', nested: { [`k ${sha(gh)}`]: [1] }, plain: 'y' });
  });
});

describe('redactText, private keys', () => {
  it('replaces a short PEM private key block whole', () => {
    const pem = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----';
    expect(redactText(`key: ${pem} end`).text).not.toContain('MHcCAQEE');
  });
});

describe('redactText, schemes after a dot', () => {
  it('finds a bearer credential that follows a dot, as in an attribute name', () => {
    expect(redactText('deploy.Bearer 9f8e7d6c5b4a39281706').text).toBe(`deploy.Bearer ${sha('9f8e7d6c5b4a39281706')}`);
  });
});
