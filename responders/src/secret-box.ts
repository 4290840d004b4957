import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * A signing secret as `responder_policies` stores it:
 * `enc:v1:<fingerprint>:<iv>:<tag>:<ciphertext>` — AES-256-GCM, the last three base64url, the
 * fingerprint the 12 hex digits the API shows (`whsec_…<fingerprint>`), so that a policy read
 * and sent back keeps its secret without it being decrypted.
 */
const SEALED = /^enc:v1:([0-9a-f]{12}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]{22}):([A-Za-z0-9_-]+)$/;

/** True for a secret in its stored, encrypted form. */
export function isSealed(value: string): boolean {
  return SEALED.test(value);
}

/** 12 hex digits of the SHA-256 of a secret: how the API names it without showing it. */
export function secretFingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 12);
}

/** The fingerprint a sealed secret carries; undefined for anything else. */
export function sealedFingerprint(value: string): string | undefined {
  return SEALED.exec(value)?.[1];
}

/**
 * Encrypts webhook signing secrets for storage and decrypts them for signing, with AES-256-GCM
 * under `INTENTWATCH_SECRETS_KEY`. Each secret is bound to its policy (the policy id and the
 * fingerprint are authenticated data): a stored value copied into another policy, or altered,
 * does not decrypt.
 *
 * const box = new SecretBox(key32);
 * const stored = box.seal('whsec_…', 'vault-prod'); // 'enc:v1:…'
 * box.open(stored, 'vault-prod');                   // 'whsec_…'
 */
export class SecretBox {
  readonly #key: Buffer;

  /** Throws when `key` is not 32 bytes. */
  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new Error(`a secrets key is 32 bytes (got ${key.length})`);
    this.#key = Buffer.from(key);
  }

  seal(secret: string, policyId: string): string {
    const fingerprint = secretFingerprint(secret);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(aad(policyId, fingerprint));
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    const b64 = (b: Buffer) => b.toString('base64url');
    return `enc:v1:${fingerprint}:${b64(iv)}:${b64(cipher.getAuthTag())}:${b64(ciphertext)}`;
  }

  /**
   * The secret `sealed` holds. Throws, without quoting the value, when it is not a sealed secret
   * or does not decrypt with this key for `policyId`.
   */
  open(sealed: string, policyId: string): string {
    const m = SEALED.exec(sealed);
    if (!m) throw new Error('not an encrypted secret (enc:v1:…)');
    const [, fingerprint, iv, tag, ciphertext] = m as unknown as [string, string, string, string, string];
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(aad(policyId, fingerprint));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error(
        `the stored secret whsec_…${fingerprint} does not decrypt with INTENTWATCH_SECRETS_KEY: the key is not the one it was stored under, or the stored value was altered`,
      );
    }
  }

  toJSON(): string {
    return '(hidden)';
  }
}

function aad(policyId: string, fingerprint: string): Buffer {
  return Buffer.from(`intentwatch policy secret v1\u0000${policyId}\u0000${fingerprint}`, 'utf8');
}
