import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ApiKeySpec, ApiRole } from './settings.js';

interface StoredKey {
  role: ApiRole;
  /** SHA-256 of the key, hex. The key itself is never written anywhere. */
  sha256: string;
  /** First characters of the key, kept in files written by earlier versions; no longer read or written. */
  prefix?: string;
}

export interface KeyIdentity {
  role: ApiRole;
  /**
   * The key holder's name in audit events, shown to every key holder: the role and eight hex
   * digits of a digest of the key under a label of its own ("key:analyst:5c1e09a2"), which tells
   * keys apart and nothing of the key itself.
   */
  name: string;
  /**
   * The name earlier versions wrote for this key, as audit rows show it today ("key:…3f0c", see
   * shownAuditName): the author of a suppression made under that name is still its author.
   */
  formerName: string;
  /** A stable, non-secret id of the key (part of its digest), for per-key rate limits. */
  id: string;
}

const ROLE_RANK: Record<ApiRole, number> = { viewer: 0, analyst: 1, admin: 2 };

/** True when `role` may do what `required` may. */
export function roleAllows(role: ApiRole, required: ApiRole): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[required];
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The HMAC key under which a key's digest becomes its audit name: names are not a prefix of any digest kept elsewhere. */
const NAME_LABEL = 'intentwatch api key audit name v1';

/**
 * The API keys this deployment accepts. From `INTENTWATCH_API_KEYS` when set; otherwise an
 * admin key generated on first start, whose digest is kept in `<dataDir>/api-keys.json` and
 * which is returned once as `generated` so that start-up can print it.
 */
export class ApiKeys {
  readonly #keys: { role: ApiRole; digest: Buffer; identity: KeyIdentity }[];

  private constructor(keys: StoredKey[]) {
    this.#keys = keys.map((k) => ({
      role: k.role,
      digest: Buffer.from(k.sha256, 'hex'),
      identity: {
        role: k.role,
        name: `key:${k.role}:${createHmac('sha256', NAME_LABEL).update(Buffer.from(k.sha256, 'hex')).digest('hex').slice(0, 8)}`,
        formerName: `key:…${k.sha256.slice(0, 4)}`,
        id: k.sha256.slice(0, 16),
      },
    }));
  }

  static load(specs: ApiKeySpec[] | undefined, dataDir: string): { keys: ApiKeys; generated?: string } {
    if (specs && specs.length > 0) {
      return { keys: new ApiKeys(specs.map((s) => ({ role: s.role, sha256: sha256(s.key).toString('hex') }))) };
    }
    const file = path.join(dataDir, 'api-keys.json');
    if (existsSync(file)) {
      return { keys: new ApiKeys(JSON.parse(readFileSync(file, 'utf8')) as StoredKey[]) };
    }
    const key = `iw_${randomBytes(24).toString('base64url')}`;
    const stored: StoredKey[] = [{ role: 'admin', sha256: sha256(key).toString('hex') }];
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    return { keys: new ApiKeys(stored), generated: key };
  }

  /** The identity of a presented key, or undefined. Constant time in the number of keys. */
  identify(presented: string): KeyIdentity | undefined {
    const d = sha256(presented);
    let found: KeyIdentity | undefined;
    for (const k of this.#keys) {
      if (timingSafeEqual(k.digest, d) && !found) found = k.identity;
    }
    return found;
  }
}
