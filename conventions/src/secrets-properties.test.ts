import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { looksLikeSecret, redactText, tokenFingerprint } from './index.js';

const jwt = (payload: object) =>
  `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig-Ab3`;

const VECTORS = [
  '',
  'abc',
  'Bearer abc',
  'bearer   9f8e7d6c5b4a39281706  ',
  'Basic dXNlcjpwYXNzd29yZA==',
  'Basic authentication',
  'Token Verification',
  jwt({ jti: 'tok-42' }),
  jwt({ sub: 'no-jti' }),
  jwt({ jti: 42 }),
  `Bearer ${jwt({ jti: 'tok-43' })}`,
  'AKIAIOSFODNN7EXAMPLE',
  `ghp_${'a1B2'.repeat(9)}`,
  `github_pat_${'A1_b'.repeat(11)}`,
  'glpat-abcdefghij0123456789',
  'xoxb-1234567890-abcdefghij',
  `sk-proj-${'Ab1'.repeat(10)}`,
  'sk_live_0123456789abcdefABCD',
  `AIza${'B'.repeat(35)}`,
  `ya29.${'a0'.repeat(15)}`,
  `hvs.${'CAESI'.repeat(5)}`,
  `npm_${'a1'.repeat(18)}`,
  '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----',
  'https://h/x?access_token=abc123def456ghi789&client_secret=Zz9Yy8Xx7Ww6Vv5',
  'error 401: Authorization: Bearer 0a1b2c3d4e5f60718293 rejected',
  'naïve ünïcode text with ghp_0123456789abcdefghij0123456789abcdef inside',
  'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  'postgres://etl:S3cr3t-Passw0rd@db.internal:5432/warehouse',
  `git clone https://x-access-token:ghp_${'a1B2'.repeat(9)}@github.com/acme/repo.git`,
  'redis://:sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad@cache:6379',
];

/** One generator per credential format both sides know. */
const CREDENTIALS = fc.oneof(
  fc.stringMatching(/^(?:AKIA|ASIA)[0-9A-Z]{16}$/),
  fc.stringMatching(/^gh[pousr]_[A-Za-z0-9]{36,40}$/),
  fc.stringMatching(/^github_pat_[A-Za-z0-9_]{40,50}$/),
  fc.stringMatching(/^glpat-[A-Za-z0-9_-]{20,30}$/),
  fc.stringMatching(/^xox[abposr]-[A-Za-z0-9-]{12,40}$/),
  fc.stringMatching(/^sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,40}$/),
  fc.stringMatching(/^(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,30}$/),
  fc.stringMatching(/^AIza[0-9A-Za-z_-]{35}$/),
  fc.stringMatching(/^ya29\.[0-9A-Za-z_-]{20,40}$/),
  fc.stringMatching(/^hv[sb]\.[A-Za-z0-9_-]{20,40}$/),
  fc.stringMatching(/^npm_[A-Za-z0-9]{36}$/),
  fc
    .stringMatching(/^[A-Za-z0-9]{12,40}$/)
    .filter((s) => /[0-9]/.test(s))
    .map((s) => `Bearer ${s}`),
  fc.record({ jti: fc.stringMatching(/^[a-z0-9-]{1,20}$/), sub: fc.string() }).map(jwt),
);

describe('secret redaction', () => {
  it('replaces every generated credential of every known format, alone and inside text', () => {
    fc.assert(
      fc.property(CREDENTIALS, fc.string(), fc.string(), (credential, before, after) => {
        const raw = credential.replace(/^Bearer /, '');
        const whole = redactText(credential);
        expect(whole).toEqual({ text: tokenFingerprint(credential), count: 1 });
        expect(looksLikeSecret(credential)).toBe(true);
        const inText = redactText(`${before} ${credential} ${after}`);
        expect(inText.count).toBeGreaterThanOrEqual(1);
        expect(inText.text).not.toContain(raw);
      }),
      { numRuns: 2000 },
    );
  });

  it('is idempotent: redacted text has nothing left to redact', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.constantFrom(...VECTORS)), (text) => {
        const once = redactText(text);
        expect(redactText(once.text)).toEqual({ text: once.text, count: 0 });
      }),
      { numRuns: 2000 },
    );
  });
});

/** A secret value no format describes: only its name or its place gives it away. */
const OPAQUE = fc.stringMatching(/^[A-Za-z0-9]{10,30}$/).map((s) => `Q${s}9`);
const anyCase = (name: string) =>
  fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((up) => [...name].map((ch, i) => (up[i] ? ch.toUpperCase() : ch.toLowerCase())).join(''));
const PARAMETER_NAMES = [
  'token',
  'access_token',
  'code',
  'sig',
  'signature',
  'X-Amz-Security-Token',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'key',
  'api_key',
  'secret',
  'password',
  'pwd',
];
/** A JWT whose header and payload are any JSON objects, spaced as any encoder may write them. */
const ANY_JWT = fc
  .tuple(
    fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
    fc.constantFrom('', ' ', '\n', '  '),
    OPAQUE,
  )
  .map(([payload, space, sig]) =>
    [
      Buffer.from(`{${space}"alg":${space}"ES256"}`).toString('base64url'),
      Buffer.from(JSON.stringify(payload, null, space.length ? space : undefined)).toString('base64url'),
      Buffer.from(sig).toString('base64url'),
    ].join('.'),
  );

/** Text that carries a secret in each of the ways a sender writes one, with the part that must go. */
const PLANTED: fc.Arbitrary<{ text: string; secret: string }> = fc.oneof(
  fc
    .tuple(fc.constantFrom(...PARAMETER_NAMES).chain(anyCase), OPAQUE, fc.constantFrom('?', '&', '; '))
    .map(([name, secret, lead]) => ({ text: `https://x.example/p${lead}${name}=${secret}&page=2`, secret })),
  ANY_JWT.map((jwt) => ({ text: `token was ${jwt} (expired)`, secret: jwt.slice(jwt.indexOf('.') + 1) })),
  fc
    .tuple(anyCase('password'), anyCase('pwd'), OPAQUE)
    .chain(([a, b, secret]) =>
      fc.constantFrom(
        { text: `Server=db;Database=app;User Id=sa;${a}=${secret};`, secret },
        { text: `Driver={x};UID=sa;${b}=${secret}`, secret },
      ),
    ),
  fc
    .tuple(anyCase('x-api-key'), anyCase('authorization'), OPAQUE)
    .chain(([a, b, secret]) =>
      fc.constantFrom(
        { text: `request failed; ${a}: ${secret} was refused`, secret },
        { text: `headers {"${a}": "${secret}"}`, secret },
        { text: `sent ${b}: ${secret}\nand gave up`, secret },
      ),
    ),
);

describe('secret redaction of named and structured carriers', () => {
  it('removes every planted secret, whatever the case of its name and whatever text surrounds it', () => {
    fc.assert(
      fc.property(PLANTED, fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (planted, before, after) => {
        for (const text of [planted.text, `${before} ${planted.text} ${after}`]) {
          const r = redactText(text);
          expect(r.text).not.toContain(planted.secret);
          expect(r.count).toBeGreaterThanOrEqual(1);
          expect(redactText(r.text)).toEqual({ text: r.text, count: 0 });
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 2000) },
    );
  });
});
