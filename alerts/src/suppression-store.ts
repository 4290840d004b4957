import { randomUUID } from 'node:crypto';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  type Store,
  nextVersion,
  rfc3339ToDateTime64,
  shownAuditName,
  type SuppressionRow as StoredSuppression,
  toMs,
} from '@intentwatch/core';

/** What a suppression mutes a detector for. */
export const SUPPRESSION_SCOPES = ['token', 'agent', 'target', 'environment'] as const;
export type SuppressionScope = (typeof SUPPRESSION_SCOPES)[number];

/** A detector id, or `*` for every detector. */
export const ANY_DETECTOR = '*';

/** The part of a suppression that decides which alerts it mutes. */
export interface SuppressionMatcher {
  /** A detector id, or `*`. */
  detector: string;
  scope: SuppressionScope;
  /** The token id (matching an alert's token or its session root), agent id, target service or environment. */
  value: string;
}

export interface Suppression extends SuppressionMatcher {
  id: string;
  reason: string;
  author: string;
  createdAt: string;
  expiresAt: string;
  /** When it was lifted before its expiry, and by whom; null while it stands. */
  deletedAt: string | null;
  deletedBy: string | null;
}

export interface NewSuppression extends SuppressionMatcher {
  reason: string;
  /** RFC 3339; must be in the future. */
  expiresAt: string;
}

/** The alert fields a suppression looks at. */
export interface SuppressibleAlert {
  detector: string;
  tokenId: string;
  rootTokenId: string;
  agentId: string;
  target: string;
  environment: string;
}

/** True when `s` mutes `alert`. {@link suppressionIndexSql} is the same rule in SQL. */
export function suppressionMatches(s: SuppressionMatcher, alert: SuppressibleAlert): boolean {
  if (s.detector !== ANY_DETECTOR && s.detector !== alert.detector) return false;
  switch (s.scope) {
    case 'token':
      return alert.tokenId === s.value || alert.rootTokenId === s.value;
    case 'agent':
      return alert.agentId === s.value;
    case 'target':
      return alert.target === s.value;
    case 'environment':
      return alert.environment === s.value;
  }
}

/**
 * A ClickHouse expression over the alert columns of table alias `a`: the 1-based index of the
 * first of `matchers` that mutes the row, 0 when none does. The matchers travel as three array
 * parameters (`supDetector`, `supScope`, `supValue`), never as SQL text; `params` receives them.
 */
export function suppressionIndexSql(matchers: readonly SuppressionMatcher[], params: Record<string, unknown>): string {
  params.supDetector = matchers.map((m) => m.detector);
  params.supScope = matchers.map((m) => m.scope);
  params.supValue = matchers.map((m) => m.value);
  return `arrayFirstIndex((d, k, v) -> (d = '${ANY_DETECTOR}' OR d = a.detector) AND multiIf(
      k = 'token', a.token_id = v OR a.root_token_id = v,
      k = 'agent', a.agent_id = v,
      k = 'target', a.target = v,
      k = 'environment', a.environment = v,
      0),
    {supDetector:Array(String)}, {supScope:Array(String)}, {supValue:Array(String)})`;
}

/** A suppression as the queries below read it (every column but `version`). */
type SuppressionRow = Omit<StoredSuppression, 'version'>;

/** The longest a suppression may stand: a mute nobody revisits for a year is a hole in coverage. */
const MAX_SUPPRESSION_MS = 366 * 24 * 3600 * 1000;

/**
 * How long the suppressions in force, as read from the store, answer {@link SuppressionStore.active}
 * before they are read again. Changes made through any SuppressionStore of the same Store take
 * effect at once; this only bounds how late a change made by another process (several
 * processes on one ClickHouse server) is seen.
 */
export const SUPPRESSIONS_REREAD_MS = 1000;

/** The suppressions in force as last read, shared by every SuppressionStore of one Store. */
interface ActiveCache {
  /** Bumped by every change made here: a read that started before it must not be kept. */
  generation: number;
  /** The list in force at `atMs - SUPPRESSIONS_REREAD_MS`, read at `atMs`. */
  read?: { atMs: number; generation: number; list: Promise<Suppression[]> };
}

const activeCaches = new WeakMap<Store, ActiveCache>();

/**
 * Suppressions: an analyst mutes a detector for one token, agent, target or environment, with
 * a reason, until an expiry. Detection is untouched — muted detections are still recorded and
 * counted — readers use {@link active} to keep them out of the open queue. Each change is a
 * new row version, so the table is also the record of who muted what, when, and who lifted it.
 */
export class SuppressionStore {
  readonly #store: Store;
  readonly #cache: ActiveCache;

  constructor(store: Store) {
    this.#store = store;
    let cache = activeCaches.get(store);
    if (!cache) {
      cache = { generation: 0 };
      activeCaches.set(store, cache);
    }
    this.#cache = cache;
  }

  /** Stores a new suppression by `author`. Throws an InvalidInputError for a bad expiry. */
  async create(input: NewSuppression, author: string, now = Date.now()): Promise<Suppression> {
    const expiresMs = rfc3339ToDateTime64(input.expiresAt) ? toMs(input.expiresAt) : Number.NaN;
    if (!Number.isFinite(expiresMs) || expiresMs <= now) {
      throw new InvalidInputError('invalid_body', `expiresAt must be an RFC 3339 time in the future (got "${input.expiresAt}")`);
    }
    if (expiresMs - now > MAX_SUPPRESSION_MS) {
      throw new InvalidInputError('invalid_body', 'expiresAt must be within a year: a suppression is a pause, not an exclusion');
    }
    const row = {
      id: randomUUID(),
      detector: input.detector,
      scope: input.scope,
      value: input.value,
      reason: input.reason,
      author,
      created_at: new Date(now).toISOString(),
      expires_at: new Date(expiresMs).toISOString(),
      deleted_at: null,
      deleted_by: '',
      version: nextVersion(),
    };
    await this.#store.insert('suppressions', [row]);
    this.#changed();
    return (await this.get(row.id)) as Suppression;
  }

  async get(id: string): Promise<Suppression | undefined> {
    const rows = await this.#store.query<SuppressionRow>(
      `SELECT id, detector, scope, value, reason, author, created_at, expires_at, deleted_at, deleted_by
       FROM suppressions WHERE id = {id:String} ORDER BY version DESC LIMIT 1`,
      { id },
    );
    return rows[0] ? toSuppression(rows[0]) : undefined;
  }

  /**
   * Suppressions, newest first: those in force at `now` (default), or every one ever made
   * (`all: true`, including expired and lifted ones).
   */
  async list(options: { all?: boolean; now?: number } = {}): Promise<Suppression[]> {
    const now = options.now ?? Date.now();
    const rows = await this.#store.query<SuppressionRow>(
      `SELECT * FROM (
         SELECT id, detector, scope, value, reason, author, created_at, expires_at, deleted_at, deleted_by
         FROM suppressions ORDER BY id, version DESC LIMIT 1 BY id
       )
       ${options.all ? '' : 'WHERE deleted_at IS NULL AND expires_at > fromUnixTimestamp64Milli({now:Int64})'}
       ORDER BY created_at DESC, id
       LIMIT 10000`,
      { now },
    );
    return rows.map(toSuppression);
  }

  /**
   * The suppressions in force at `now`. Every alert listing and every batch of alerts the
   * responders act on asks for them, so the list read from the store answers for
   * {@link SUPPRESSIONS_REREAD_MS}, filtered by expiry at `now`; a `now` before that read asks
   * the store.
   */
  async active(now = Date.now()): Promise<Suppression[]> {
    const cache = this.#cache;
    const wall = Date.now();
    let read = cache.read;
    if (
      !read ||
      read.generation !== cache.generation ||
      wall - read.atMs >= SUPPRESSIONS_REREAD_MS ||
      now < read.atMs - SUPPRESSIONS_REREAD_MS
    ) {
      if (now < wall - SUPPRESSIONS_REREAD_MS) return this.list({ now });
      // Read as of a moment earlier, so that a caller's `now` up to that much in the past is
      // answered exactly; expiry is applied below, at each caller's `now`.
      read = { atMs: wall, generation: cache.generation, list: this.list({ now: wall - SUPPRESSIONS_REREAD_MS }) };
      const mine = read;
      cache.read = mine;
      // A failed read is not kept: the next caller asks again.
      mine.list.catch(() => {
        if (cache.read === mine) cache.read = undefined;
      });
    }
    const list = await read.list;
    return list.filter((s) => toMs(s.expiresAt) > now);
  }

  /** A change made here: the next {@link active} reads the store again. */
  #changed(): void {
    this.#cache.generation++;
    this.#cache.read = undefined;
  }

  /**
   * Lifts a suppression before its expiry; returns it as it now reads. Throws a NotFoundError when
   * it does not exist, 409 when it was already lifted or has expired.
   */
  async lift(id: string, actor: string, now = Date.now()): Promise<Suppression> {
    const rows = await this.#store.query<SuppressionRow & { version: string }>(
      `SELECT id, detector, scope, value, reason, author, created_at, expires_at, deleted_at, deleted_by, version
       FROM suppressions WHERE id = {id:String} ORDER BY version DESC LIMIT 1`,
      { id },
    );
    const current = rows[0];
    if (!current) throw new NotFoundError(`no suppression with id ${id}`);
    if (current.deleted_at) throw new ConflictError('conflict', `suppression ${id} was already lifted at ${current.deleted_at}`);
    if (toMs(current.expires_at) <= now) throw new ConflictError('conflict', `suppression ${id} expired at ${current.expires_at}`);
    const { version: _previous, ...fields } = current;
    await this.#store.insert('suppressions', [
      { ...fields, deleted_at: new Date(now).toISOString(), deleted_by: actor, version: nextVersion() },
    ]);
    this.#changed();
    return (await this.get(id)) as Suppression;
  }
}

function toSuppression(r: SuppressionRow): Suppression {
  return {
    id: r.id,
    detector: r.detector,
    scope: r.scope as SuppressionScope,
    value: r.value,
    reason: r.reason,
    author: shownAuditName(r.author),
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    deletedAt: r.deleted_at,
    deletedBy: r.deleted_at ? shownAuditName(r.deleted_by) : null,
  };
}
