import { type SsfKeyRow, type Store, UnavailableError, createLogger, nextVersion } from '@intentwatch/core';
import { type CryptoKey, type JWK, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { SecretBox } from '../secret-box.js';

/** Signature algorithms a deployment may sign SETs with (RFC 7518 names). */
export const SSF_ALGORITHMS = ['ES256', 'RS256', 'EdDSA'] as const;
export type SsfAlgorithm = (typeof SSF_ALGORITHMS)[number];

/** A key as `#load` reads it (every column but `version`). */
type KeyRow = Omit<SsfKeyRow, 'version'>;

interface LoadedKey {
  kid: string;
  alg: string;
  publicJwk: JWK;
  sealed: string;
  createdAt: number;
  retireAt: number | null;
}

/** How long a process trusts its view of the keys before reading them again (another process may have rotated). */
const REFRESH_MS = 5000;

/**
 * The transmitter's signing keys. The first start generates one (ES256 by default); its private
 * JWK is stored only sealed with the SecretBox under `INTENTWATCH_SECRETS_KEY` (bound to its
 * kid), like webhook secrets. {@link rotate} adds a new key that signs from then on and gives
 * the old one a retirement time: until then both are in the JWKS, so receivers that cached the
 * JWKS keep verifying SETs signed just before the rotation (SSF 1.0 §4.1.4, key resolution
 * through `jwks_uri`).
 */
export class SsfKeys {
  readonly #log = createLogger('detectors.responders.ssf');
  readonly #store: Store;
  readonly #box: SecretBox;
  readonly #alg: SsfAlgorithm;
  #keys: LoadedKey[] = [];
  #loadedAt = 0;
  #signer: { kid: string; alg: string; key: CryptoKey } | undefined;

  private constructor(store: Store, box: SecretBox, alg: SsfAlgorithm) {
    this.#store = store;
    this.#box = box;
    this.#alg = alg;
  }

  /** Reads the keys, generating the first one when there is none. */
  static async open(store: Store, box: SecretBox, alg: SsfAlgorithm = 'ES256'): Promise<SsfKeys> {
    const keys = new SsfKeys(store, box, alg);
    await keys.#load();
    if (!keys.#current()) {
      await keys.#generate();
      keys.#log.info({ kid: keys.#current()?.kid }, 'generated the first Shared Signals signing key');
    }
    return keys;
  }

  /** The public keys receivers verify with: the current one and every replaced one not yet retired. */
  async jwks(now = Date.now()): Promise<{ keys: JWK[] }> {
    await this.#fresh();
    return {
      keys: this.#keys
        .filter((k) => k.retireAt === null || k.retireAt > now)
        .sort((a, b) => b.createdAt - a.createdAt)
        .map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig' })),
    };
  }

  /** The key SETs are signed with now (the newest not retired). */
  async signer(): Promise<{ kid: string; alg: string; key: CryptoKey }> {
    await this.#fresh();
    const current = this.#current();
    if (!current) throw new Error('no Shared Signals signing key: the key table is empty');
    if (this.#signer?.kid !== current.kid) {
      const jwk = JSON.parse(this.#box.open(current.sealed, `ssf-key:${current.kid}`)) as JWK;
      this.#signer = { kid: current.kid, alg: current.alg, key: (await importJWK(jwk, current.alg)) as CryptoKey };
    }
    return this.#signer;
  }

  /**
   * A new signing key, effective at once; the keys it replaces stay in the JWKS for `overlapMs`.
   * Returns the new key id and the replaced ones with their retirement time.
   */
  async rotate(overlapMs: number, now = Date.now()): Promise<{ kid: string; retiring: { kid: string; retireAt: string }[] }> {
    await this.#load();
    const live = this.#keys.filter((k) => k.retireAt === null);
    const retireAt = now + overlapMs;
    if (live.length > 0) {
      await this.#store.insert(
        'ssf_keys',
        live.map((k) => this.#row(k, retireAt)),
      );
    }
    const kid = await this.#generate(now + 1);
    this.#log.info({ kid, retiring: live.map((k) => k.kid) }, 'rotated the Shared Signals signing key');
    return { kid, retiring: live.map((k) => ({ kid: k.kid, retireAt: new Date(retireAt).toISOString() })) };
  }

  #current(): LoadedKey | undefined {
    return this.#keys.filter((k) => k.retireAt === null).sort((a, b) => b.createdAt - a.createdAt || b.kid.localeCompare(a.kid))[0];
  }

  async #fresh(): Promise<void> {
    if (Date.now() - this.#loadedAt >= REFRESH_MS) await this.#load();
  }

  async #load(): Promise<void> {
    const rows = await this.#store.query<KeyRow>(
      `SELECT kid, alg, public_jwk, private_sealed, created_at, retire_at FROM ssf_keys
       ORDER BY kid, version DESC LIMIT 1 BY kid`,
    );
    this.#keys = rows.map((r) => ({
      kid: r.kid,
      alg: r.alg,
      publicJwk: JSON.parse(r.public_jwk) as JWK,
      sealed: r.private_sealed,
      createdAt: Date.parse(r.created_at),
      retireAt: r.retire_at === null ? null : Date.parse(r.retire_at),
    }));
    this.#loadedAt = Date.now();
  }

  async #generate(now = Date.now()): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(this.#alg, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    // RFC 7638 thumbprint: a kid that names the key itself, so two processes never reuse one.
    const kid = await calculateJwkThumbprint(publicJwk);
    const sealed = this.#box.seal(JSON.stringify(await exportJWK(privateKey)), `ssf-key:${kid}`);
    const key: LoadedKey = { kid, alg: this.#alg, publicJwk, sealed, createdAt: now, retireAt: null };
    await this.#store.insert('ssf_keys', [this.#row(key, null)]);
    await this.#load();
    return kid;
  }

  #row(k: LoadedKey, retireAt: number | null) {
    return {
      kid: k.kid,
      alg: k.alg,
      public_jwk: JSON.stringify(k.publicJwk),
      private_sealed: k.sealed,
      created_at: new Date(k.createdAt).toISOString(),
      retire_at: retireAt === null ? null : new Date(retireAt).toISOString(),
      version: nextVersion(),
    };
  }
}

/** Thrown by routes when the transmitter cannot sign: no secrets key to keep its signing key under. */
export function ssfUnavailable(): UnavailableError {
  return new UnavailableError(
    'ssf_unavailable',
    'the Shared Signals transmitter needs INTENTWATCH_SECRETS_KEY to keep its signing key encrypted; set it and restart',
  );
}
