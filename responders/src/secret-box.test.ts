import { randomBytes } from 'node:crypto';
import { ConfigError, composeSettings, coreSettings } from '@intentwatch/core';
import { responderSettings } from './settings.js';
import { describe, expect, it } from 'vitest';
import { parsePolicy, publicPolicy, resolveSecrets, restoreSecrets, sealSecrets } from './policy.js';
import { SecretBox, isSealed } from './secret-box.js';

/** The settings these tests read: the core settings and those of the workspaces they start. */
const configuration = composeSettings(coreSettings, responderSettings);
const loadConfig = configuration.load;

const SECRET = `whsec_${Buffer.from('secret-box-test-secret-32-bytes!').toString('base64')}`;
const base = { id: 'broker', endpoint: { url: 'https://broker.example.com/revoke', secrets: [SECRET] } };

describe('SecretBox', () => {
  it('stores a secret as enc:v1:… that holds no part of it, and gives it back for signing', () => {
    const box = new SecretBox(randomBytes(32));

    const sealed = box.seal(SECRET, 'broker');

    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain(SECRET.slice('whsec_'.length, 'whsec_'.length + 12));
    expect(box.seal(SECRET, 'broker')).not.toBe(sealed);
    expect(box.open(sealed, 'broker')).toBe(SECRET);
  });

  it('refuses a value sealed for another policy, under another key, or altered, without quoting it', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal(SECRET, 'broker');
    // One bit of the ciphertext flipped (not the last base64 character, whose low bits may be unused padding).
    const parts = sealed.split(':');
    const ciphertext = Buffer.from(parts.at(-1) as string, 'base64url');
    ciphertext[0] = (ciphertext[0] as number) ^ 0x01;
    const altered = [...parts.slice(0, -1), ciphertext.toString('base64url')].join(':');

    for (const [value, policy, opener] of [
      [sealed, 'other', box],
      [sealed, 'broker', new SecretBox(randomBytes(32))],
      [altered, 'broker', box],
    ] as const) {
      let message = '';
      try {
        opener.open(value, policy);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/does not decrypt with INTENTWATCH_SECRETS_KEY/);
      expect(message).not.toContain(value);
    }
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('policy secrets at rest', () => {
  it('encrypts the whsec_ secrets of a policy, keeps env: references, and shows both as before', () => {
    const box = new SecretBox(randomBytes(32));
    const plain = parsePolicy({ ...base, endpoint: { ...base.endpoint, secrets: [SECRET, 'env:NEXT_SECRET'] } }, 'api');

    const sealed = sealSecrets(plain, box);

    expect(JSON.stringify(sealed)).not.toContain(SECRET);
    expect(sealed.endpoint.secrets[1]).toBe('env:NEXT_SECRET');
    expect(publicPolicy(sealed).endpoint.secrets).toEqual(publicPolicy(plain).endpoint.secrets);
    expect(resolveSecrets(sealed, { NEXT_SECRET: SECRET }, box)).toEqual([SECRET, SECRET]);
    // A policy read back through the API (redacted) and sent again keeps its encrypted secret.
    const again = restoreSecrets(parsePolicy(publicPolicy(sealed), 'api'), sealed);
    expect(again.endpoint.secrets).toEqual(sealed.endpoint.secrets);
  });

  it('refuses to store a whsec_ secret without a key, saying to use env:NAME or set INTENTWATCH_SECRETS_KEY', () => {
    const plain = parsePolicy(base, 'api');

    expect(() => sealSecrets(plain, undefined)).toThrow(
      expect.objectContaining({
        name: 'InvalidInputError',
        code: 'invalid_policy',
        message: expect.stringMatching(/env:NAME.*INTENTWATCH_SECRETS_KEY/),
      }),
    );
    expect(sealSecrets(parsePolicy({ ...base, endpoint: { ...base.endpoint, secrets: ['env:X'] } }, 'api'), undefined)).toBeTruthy();
  });

  it('takes encrypted values only from the store, never from a client', () => {
    const sealed = new SecretBox(randomBytes(32)).seal(SECRET, 'broker');
    const withSealed = { ...base, endpoint: { ...base.endpoint, secrets: [sealed] } };

    expect(() => parsePolicy(withSealed, 'api')).toThrow(/endpoint.secrets/);
    expect(parsePolicy(withSealed, 'api', { stored: true }).endpoint.secrets).toEqual([sealed]);
  });

  it('cannot sign with an encrypted secret in a process without the key, and says why', () => {
    const sealed = sealSecrets(parsePolicy(base, 'api'), new SecretBox(randomBytes(32)));

    expect(() => resolveSecrets(sealed, {})).toThrow(/stored encrypted, and INTENTWATCH_SECRETS_KEY is not set/);
    expect(() => resolveSecrets(sealed, {}, new SecretBox(randomBytes(32)))).toThrow(/not the one it was stored under/);
  });
});

describe('INTENTWATCH_SECRETS_KEY', () => {
  const load = (v: string) => loadConfig({ INTENTWATCH_SECRETS_KEY: v }, { dotenv: false });

  it('takes 32 bytes as base64, base64url or hex, and never shows them', () => {
    const key = randomBytes(32);
    for (const text of [key.toString('base64'), key.toString('base64url'), key.toString('hex')]) {
      expect(load(text).responders.secretsKey?.bytes()).toEqual(key);
    }
    const config = load(key.toString('base64'));
    expect(JSON.stringify(config)).not.toContain(key.toString('base64'));
    expect(JSON.stringify(config)).not.toContain(key.toString('hex'));
    expect(loadConfig({}, { dotenv: false }).responders.secretsKey).toBeUndefined();
  });

  it('refuses anything else with a message naming the variable and not the value', () => {
    for (const bad of ['short', randomBytes(16).toString('base64'), randomBytes(33).toString('hex'), 'z'.repeat(64)]) {
      let error: unknown;
      try {
        load(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/INTENTWATCH_SECRETS_KEY: expected 32 random bytes/);
      expect((error as Error).message).not.toContain(bad);
    }
  });
});
