import { randomBytes } from 'node:crypto';
import type { Grant, TokenEvents } from '@intentwatch/sdk';

/** A token the simulated broker minted: the secret the agent holds and the id everyone else sees. */
export interface DemoToken {
  /** The credential itself (a JWT). Agents present it; only its fingerprint is ever exported. */
  secret: string;
  /** Its `jti`, which is also its `token.id`. */
  id: string;
  agentId: string;
}

export type DemoGrant = Omit<Grant, 'token' | 'tokenId'>;

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * The organisation's token broker: mints JWT-shaped access tokens (the signature is random: no
 * service here verifies it) and reports every issue, refresh, exchange and revocation through
 * the SDK's `TokenEvents`. Remembers which token ids it gave to whom.
 */
export class DemoBroker {
  readonly #events: TokenEvents;
  readonly #runId: string;
  #seq = 0;
  readonly #issued = new Map<string, string[]>();

  constructor(events: TokenEvents, runId: string) {
    this.#events = events;
    this.#runId = runId;
  }

  issue(grant: DemoGrant): DemoToken {
    const token = this.#mint(grant);
    this.#events.issued({ ...grant, token: token.secret });
    return token;
  }

  refresh(parent: DemoToken, grant: DemoGrant): DemoToken {
    const token = this.#mint(grant);
    this.#events.refreshed({ ...grant, token: token.secret, parentId: parent.id });
    return token;
  }

  exchange(parent: DemoToken, grant: DemoGrant): DemoToken {
    const token = this.#mint(grant);
    this.#events.exchanged({ ...grant, token: token.secret, parentId: parent.id });
    return token;
  }

  revoke(token: DemoToken, reason: string, time: number): void {
    this.#events.revoked({ tokenId: token.id, reason, time });
  }

  /** Ids of every token issued to `agentId` so far. */
  issuedTo(agentId: string): readonly string[] {
    return this.#issued.get(agentId) ?? [];
  }

  #mint(grant: DemoGrant): DemoToken {
    this.#seq++;
    const id = `tok-${grant.agentId}-${this.#runId}-${String(this.#seq).padStart(4, '0')}`;
    const iat = Math.floor(Number(grant.time ?? Date.now()) / 1000);
    const secret = [
      b64({ alg: 'ES256', typ: 'JWT', kid: 'demo-broker-1' }),
      b64({
        iss: 'https://broker.acme.example',
        sub: grant.agentId,
        aud: grant.audience,
        scope: grant.scopes.join(' '),
        jti: id,
        iat,
        ...(grant.expiresAt !== undefined ? { exp: Math.floor(Number(grant.expiresAt) / 1000) } : {}),
      }),
      randomBytes(64).toString('base64url'),
    ].join('.');
    const list = this.#issued.get(grant.agentId) ?? [];
    list.push(id);
    this.#issued.set(grant.agentId, list);
    return { secret, id, agentId: grant.agentId };
  }
}
