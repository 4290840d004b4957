import { readFileSync } from 'node:fs';
import { ConfigError, HttpError, type Store } from '@intentwatch/core';
import { nextVersion } from '../version.js';
import { type Policy, demoPolicy, parsePolicy, restoreSecrets } from './policy.js';

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
 */
export class PolicyStore {
  readonly #store: Store;
  readonly #fixed = new Map<string, Policy>();
  #stored = new Map<string, Policy>();
  #states = new Map<string, PolicyState>();

  private constructor(store: Store) {
    this.#store = store;
  }

  /**
   * Reads the policies file (JSON: an array of policies, or `{ "policies": [...] }`) and the
   * stored policies. Throws ConfigError naming the file and the problem.
   */
  static async open(
    store: Store,
    options: { policiesFile?: string | undefined; demoWebhook?: { url: string; secret: string } | undefined; policies?: Policy[] } = {},
  ): Promise<PolicyStore> {
    const ps = new PolicyStore(store);
    if (options.policiesFile) {
      for (const p of readPolicyFile(options.policiesFile)) ps.#fixed.set(p.id, p);
    }
    for (const p of options.policies ?? []) ps.#fixed.set(p.id, p);
    if (options.demoWebhook) ps.#fixed.set('demo', demoPolicy(options.demoWebhook.url, options.demoWebhook.secret));
    await ps.refresh();
    return ps;
  }

  /** Re-reads the stored policies and every policy's state. */
  async refresh(): Promise<void> {
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
      stored.set(r.id, parsePolicy(JSON.parse(r.body), 'api'));
    }
    this.#stored = stored;
    this.#states = new Map(
      states.map((s) => [
        s.policy_id,
        { state: s.state as PolicyStateName, reason: s.reason, since: s.updated_at, updatedBy: s.updated_by },
      ]),
    );
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
   * has. Throws HttpError 409 for a file or demo policy, 400 for an invalid one.
   */
  async put(input: unknown, actor: string): Promise<Policy> {
    const parsed = parsePolicy(input, 'api');
    if (this.#fixed.has(parsed.id)) {
      throw new HttpError(
        409,
        'read_only_policy',
        `policy ${parsed.id} comes from ${this.#fixed.get(parsed.id)?.source === 'env' ? 'INTENTWATCH_DEMO_WEBHOOK' : 'the policies file'} and cannot be changed through the API`,
      );
    }
    const policy = restoreSecrets(parsed, this.#stored.get(parsed.id));
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
    return policy;
  }

  /** Deletes an API policy. Throws HttpError 404 when unknown, 409 for a file or demo policy. */
  async delete(id: string, actor: string): Promise<void> {
    if (this.#fixed.has(id)) throw new HttpError(409, 'read_only_policy', `policy ${id} is not managed through the API`);
    const existing = this.#stored.get(id);
    if (!existing) throw new HttpError(404, 'not_found', `no policy with id ${id}`);
    await this.#store.insert('responder_policies', [
      { id, body: '{}', deleted: 1, updated_by: actor, updated_at: new Date().toISOString(), version: nextVersion() },
    ]);
    this.#stored.delete(id);
  }

  async setState(id: string, state: PolicyStateName, reason: string, actor: string, now = Date.now()): Promise<PolicyState> {
    const since = new Date(now).toISOString();
    await this.#store.insert('responder_policy_state', [
      { policy_id: id, state, reason, updated_by: actor, updated_at: since, version: nextVersion() },
    ]);
    const s: PolicyState = { state, reason, since, updatedBy: actor };
    this.#states.set(id, s);
    return s;
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
      if (seen.has(policy.id)) throw new HttpError(400, 'invalid_policy', `id: ${policy.id} appears twice`);
      seen.add(policy.id);
      return policy;
    } catch (e) {
      throw new ConfigError(`INTENTWATCH_POLICIES_FILE: policy ${i + 1} in ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
}
