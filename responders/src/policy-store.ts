import { readUnchanged } from './read-unchanged.js';
import { readFileSync } from 'node:fs';
import {
  ConfigError,
  ConflictError,
  InvalidInputError,
  NotFoundError,
  type Store,
  createLogger,
  nextVersion,
  quoteIdentifier,
  shownAuditName,
} from '@intentwatch/core';
import { type Policy, demoPolicy, envNotifyPolicy, isPlainSecret, parsePolicy, restoreSecrets, sealSecrets } from './policy.js';
import type { SecretBox } from './secret-box.js';

/** active: delivering. paused: the circuit breaker tripped; held until an admin resumes. disabled: the endpoint answered 410 Gone. */
export const POLICY_STATES = ['active', 'paused', 'disabled'] as const;
export type PolicyStateName = (typeof POLICY_STATES)[number];

export interface PolicyState {
  state: PolicyStateName;
  /** Why it is paused or disabled, in a sentence an admin can act on; empty when active. */
  reason: string;
  /** RFC 3339 time of the last change; null for a policy that never changed state. */
  since: string | null;
  updatedBy: string;
}

const ACTIVE: PolicyState = { state: 'active', reason: '', since: null, updatedBy: '' };

/**
 * The revoke policies in force: those of the policies file (read once at start-up), the demo
 * policy (`INTENTWATCH_DEMO_WEBHOOK`), and those admins manage through the API (stored in
 * `responder_policies`, re-read by {@link refresh} so that every worker sees an API change). File
 * and demo policies are read-only through the API. Each policy's state (active, paused,
 * disabled) lives in `responder_policy_state`.
 *
 * No signing secret is stored in plain text: an API policy's `whsec_` secrets are encrypted
 * with `INTENTWATCH_SECRETS_KEY` (see SecretBox) before they are written, and without that key
 * the API takes only `env:NAME` references. Rows an earlier version wrote with plain secrets
 * keep working; with the key set they are encrypted when the store opens and their plain
 * versions deleted.
 */
export class PolicyStore {
  readonly #log = createLogger('detectors.responders.policies');
  readonly #store: Store;
  readonly #box: SecretBox | undefined;
  readonly #fixed = new Map<string, Policy>();
  #stored = new Map<string, Policy>();
  #states = new Map<string, PolicyState>();
  /** Changes made through this store (put, delete, setState): a refresh that overlaps one reads again. */
  #changes = 0;

  private constructor(store: Store, box: SecretBox | undefined) {
    this.#store = store;
    this.#box = box;
  }

  /**
   * Reads the policies file (JSON: an array of policies, or `{ "policies": [...] }`) and the
   * stored policies, encrypting plain secrets an earlier version stored when `secrets` is given.
   * Throws ConfigError naming the file and the problem.
   */
  static async open(
    store: Store,
    options: {
      policiesFile?: string | undefined;
      demoWebhook?: { url: string; secret: string } | undefined;
      /** `INTENTWATCH_NOTIFY_WEBHOOK` and its settings: a notify policy (id `notify:chat`). */
      notify?: Parameters<typeof envNotifyPolicy>[0] | undefined;
      policies?: Policy[];
      /** Encrypts the secrets of API policies (`INTENTWATCH_SECRETS_KEY`). */
      secrets?: SecretBox | undefined;
    } = {},
  ): Promise<PolicyStore> {
    const ps = new PolicyStore(store, options.secrets);
    if (options.policiesFile) {
      for (const p of readPolicyFile(options.policiesFile)) ps.#fixed.set(p.id, p);
    }
    for (const p of options.policies ?? []) ps.#fixed.set(p.id, p);
    if (options.demoWebhook) ps.#fixed.set('demo', demoPolicy(options.demoWebhook.url, options.demoWebhook.secret));
    if (options.notify) {
      const p = envNotifyPolicy(options.notify);
      ps.#fixed.set(p.id, p);
    }
    await ps.#sealPlainRows();
    await ps.refresh();
    return ps;
  }

  /**
   * Re-reads the stored policies and every policy's state. A change made through this store
   * while the read was under way (its read may predate the change) makes it read again, so that
   * a refresh never puts back what a `put`, `delete` or `setState` here has just replaced.
   */
  async refresh(): Promise<void> {
    const read = await readUnchanged(
      () => this.#changes,
      () => this.#read(),
    );
    this.#stored = read.stored;
    this.#states = read.states;
  }

  async #read(): Promise<{ stored: Map<string, Policy>; states: Map<string, PolicyState> }> {
    const [rows, states] = await Promise.all([
      this.#store.query<{ id: string; body: string; deleted: number }>(
        'SELECT id, argMax(body, version) AS body, argMax(deleted, version) AS deleted FROM responder_policies GROUP BY id',
      ),
      this.#store.query<{ policy_id: string; state: string; reason: string; updated_by: string; updated_at: string }>(
        `SELECT policy_id, argMax(state, version) AS state, argMax(reason, version) AS reason,
                argMax(updated_by, version) AS updated_by, argMax(updated_at, version) AS updated_at
         FROM responder_policy_state GROUP BY policy_id`,
      ),
    ]);
    const stored = new Map<string, Policy>();
    for (const r of rows) {
      if (Number(r.deleted) === 1 || this.#fixed.has(r.id)) continue;
      stored.set(r.id, parsePolicy(JSON.parse(r.body), 'api', { stored: true }));
    }
    return {
      stored,
      states: new Map(
        states.map((s) => [
          s.policy_id,
          { state: s.state as PolicyStateName, reason: s.reason, since: s.updated_at, updatedBy: shownAuditName(s.updated_by) },
        ]),
      ),
    };
  }

  list(): Policy[] {
    return [...this.#fixed.values(), ...this.#stored.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  get(id: string): Policy | undefined {
    return this.#fixed.get(id) ?? this.#stored.get(id);
  }

  state(id: string): PolicyState {
    return this.#states.get(id) ?? ACTIVE;
  }

  /**
   * Creates or replaces an API policy. Redacted secrets stand for the ones the policy already
   * has; new `whsec_` secrets are stored encrypted. Throws ConflictError for a file or demo
   * policy, 400 for an invalid one, or for a `whsec_` secret when there is no secrets key.
   */
  async put(input: unknown, actor: string): Promise<Policy> {
    // A fixed policy is refused before its input is judged: its id may be one an API policy cannot take (notify:chat).
    const id = (input as { id?: unknown } | null)?.id;
    if (typeof id === 'string' && this.#fixed.has(id)) this.#readOnly(id);
    const parsed = parsePolicy(input, 'api');
    if (this.#fixed.has(parsed.id)) this.#readOnly(parsed.id);
    const policy = sealSecrets(restoreSecrets(parsed, this.#stored.get(parsed.id)), this.#box);
    const { source: _source, ...body } = policy;
    await this.#store.insert('responder_policies', [
      {
        id: policy.id,
        body: JSON.stringify(body),
        deleted: 0,
        updated_by: actor,
        updated_at: new Date().toISOString(),
        version: nextVersion(),
      },
    ]);
    this.#stored.set(policy.id, policy);
    this.#changes++;
    return policy;
  }

  /** Deletes an API policy. Throws NotFoundError when unknown, ConflictError for a file or demo policy. */
  #readOnly(id: string): never {
    throw new ConflictError(
      'read_only_policy',
      `policy ${id} comes from ${this.#fixed.get(id)?.source === 'env' ? 'the environment (INTENTWATCH_DEMO_WEBHOOK or INTENTWATCH_NOTIFY_WEBHOOK)' : 'the policies file'} and cannot be changed through the API`,
    );
  }

  async delete(id: string, actor: string): Promise<void> {
    if (this.#fixed.has(id)) throw new ConflictError('read_only_policy', `policy ${id} is not managed through the API`);
    const existing = this.#stored.get(id);
    if (!existing) throw new NotFoundError(`no policy with id ${id}`);
    await this.#store.insert('responder_policies', [
      { id, body: '{}', deleted: 1, updated_by: actor, updated_at: new Date().toISOString(), version: nextVersion() },
    ]);
    this.#stored.delete(id);
    this.#changes++;
  }

  /**
   * Rows an earlier version wrote with plain `whsec_` secrets: with a key, the latest of each
   * policy is written again encrypted (one version above, so that any later change still wins)
   * and every plain version is deleted; without one they keep working, and an admin is told.
   */
  async #sealPlainRows(): Promise<void> {
    const rows = await this.#store.query<{ id: string; body: string; deleted: number; version: string }>(
      'SELECT id, body, deleted, toString(version) AS version FROM responder_policies',
    );
    const latest = new Map<string, { body: string; deleted: boolean; version: bigint }>();
    const plainUpTo = new Map<string, bigint>();
    for (const r of rows) {
      const version = BigInt(r.version);
      if ((latest.get(r.id)?.version ?? -1n) < version) latest.set(r.id, { body: r.body, deleted: Number(r.deleted) === 1, version });
      if (holdsPlainSecret(r.body) && (plainUpTo.get(r.id) ?? -1n) < version) plainUpTo.set(r.id, version);
    }
    if (plainUpTo.size === 0) return;
    const ids = [...plainUpTo.keys()].sort();
    const box = this.#box;
    if (!box) {
      this.#log.warn(
        { policies: ids },
        'stored revoke policies hold webhook secrets in plain text (written by an earlier version); they keep working. Set INTENTWATCH_SECRETS_KEY to have them encrypted at the next start, or replace their secrets with env:NAME references',
      );
      return;
    }
    for (const [id, upTo] of plainUpTo) {
      const last = latest.get(id);
      if (last && last.version === upTo && !last.deleted) {
        const policy = sealSecrets(parsePolicy(JSON.parse(last.body), 'api', { stored: true }), box);
        const { source: _source, ...body } = policy;
        await this.#store.insert('responder_policies', [
          {
            id,
            body: JSON.stringify(body),
            deleted: 0,
            updated_by: 'intentwatch: secrets encrypted',
            updated_at: new Date().toISOString(),
            version: (upTo + 1n).toString(),
          },
        ]);
      }
      await this.#store.command(
        `ALTER TABLE ${this.#localTable('responder_policies')} DELETE WHERE id = {id:String} AND version <= {upTo:UInt64}`,
        { id, upTo: upTo.toString() },
        { mutations_sync: '2' },
      );
    }
    this.#log.info({ policies: ids }, 'webhook secrets of stored revoke policies encrypted; their plain-text versions deleted');
  }

  /** Where rows of `table` live: the table itself, or its `_local` tables on every node of a cluster. */
  #localTable(table: string): string {
    const s = this.#store;
    if (!s.cluster) return quoteIdentifier(table);
    return `${quoteIdentifier(s.database)}.${quoteIdentifier(`${table}_local`)} ON CLUSTER ${quoteIdentifier(s.cluster)}`;
  }

  async setState(id: string, state: PolicyStateName, reason: string, actor: string, now = Date.now()): Promise<PolicyState> {
    const since = new Date(now).toISOString();
    await this.#store.insert('responder_policy_state', [
      { policy_id: id, state, reason, updated_by: actor, updated_at: since, version: nextVersion() },
    ]);
    const s: PolicyState = { state, reason, since, updatedBy: actor };
    this.#states.set(id, s);
    this.#changes++;
    return s;
  }
}

function holdsPlainSecret(body: string): boolean {
  try {
    const secrets = (JSON.parse(body) as { endpoint?: { secrets?: unknown } }).endpoint?.secrets;
    return Array.isArray(secrets) && secrets.some((s) => typeof s === 'string' && isPlainSecret(s));
  } catch {
    return false;
  }
}

/** Policies from a JSON file; throws ConfigError naming the file and what is wrong. */
export function readPolicyFile(file: string): Policy[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`INTENTWATCH_POLICIES_FILE: cannot read ${file} as JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const list = Array.isArray(json) ? json : (json as { policies?: unknown })?.policies;
  if (!Array.isArray(list)) {
    throw new ConfigError(`INTENTWATCH_POLICIES_FILE: expected ${file} to hold an array of policies or { "policies": [...] }`);
  }
  const seen = new Set<string>();
  return list.map((p, i) => {
    try {
      const policy = parsePolicy(p, 'file');
      if (seen.has(policy.id)) throw new InvalidInputError('invalid_policy', `id: ${policy.id} appears twice`);
      seen.add(policy.id);
      return policy;
    } catch (e) {
      throw new ConfigError(`INTENTWATCH_POLICIES_FILE: policy ${i + 1} in ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
}
