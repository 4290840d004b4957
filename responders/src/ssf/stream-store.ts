import { readUnchanged } from '../read-unchanged.js';
import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, type Store, nextVersion } from '@intentwatch/core';
import type { SecretBox } from '../secret-box.js';
import { type SubjectId, subjectKey } from './ssf-events.js';

export const STREAM_STATUSES = ['enabled', 'paused', 'disabled'] as const;
export type StreamStatus = (typeof STREAM_STATUSES)[number];

/** A stream as stored: the receiver-supplied configuration plus what the transmitter keeps about it. */
export interface StreamRecord {
  streamId: string;
  aud: string | string[];
  eventsRequested: string[];
  delivery: { method: string; endpointUrl?: string; authorizationHeaderSealed?: string };
  description: string;
  /** Subjects added through the add-subject endpoint; empty means every subject. */
  subjects: SubjectId[];
  status: StreamStatus;
  reason: string;
  /** Past this many SETs a minute the stream pauses (the circuit breaker shared with revoke policies). */
  maxPerMinute: number;
  /** Record the SETs that would be sent, send nothing. */
  dryRun: boolean;
  createdAt: string;
  lastVerificationAt: number;
  /** When the status last changed (ISO; absent: since the stream was created). */
  statusSince?: string;
}

/** Most streams one deployment keeps, and most subjects one stream names: a receiver cannot grow our memory without bound. */
export const MAX_STREAMS = 100;
export const MAX_SUBJECTS = 10_000;
const REFRESH_MS = 2000;

/**
 * Shared Signals streams in `ssf_streams` (latest version wins; a delete is a tombstone), cached
 * and re-read every two seconds so that every process sees a change made through the API. The
 * push endpoint's `authorization_header` is a secret: stored sealed with the SecretBox, never
 * shown back.
 */
export class StreamStore {
  readonly #store: Store;
  readonly #box: SecretBox;
  #streams = new Map<string, StreamRecord>();
  #loadedAt = 0;
  /** Saves and deletes made through this store: a refresh that overlaps one reads again. */
  #changes = 0;

  constructor(store: Store, box: SecretBox) {
    this.#store = store;
    this.#box = box;
  }

  async list(): Promise<StreamRecord[]> {
    await this.#fresh();
    return [...this.#streams.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** A stream, or NotFoundError. */
  async get(streamId: string, refresh = false): Promise<StreamRecord> {
    if (refresh) await this.refresh();
    else await this.#fresh();
    const s = this.#streams.get(streamId);
    if (!s) throw new NotFoundError(`no stream with stream_id ${streamId}`);
    return s;
  }

  async create(input: Omit<StreamRecord, 'streamId' | 'createdAt' | 'lastVerificationAt'>, actor: string): Promise<StreamRecord> {
    await this.refresh();
    if (this.#streams.size >= MAX_STREAMS) {
      throw new ConflictError('too_many_streams', `this transmitter keeps at most ${MAX_STREAMS} streams; delete one first`);
    }
    const record: StreamRecord = {
      ...input,
      streamId: randomBytes(16).toString('hex'),
      createdAt: new Date().toISOString(),
      lastVerificationAt: 0,
    };
    await this.save(record, actor);
    return record;
  }

  async save(record: StreamRecord, actor: string): Promise<void> {
    if (record.subjects.length > MAX_SUBJECTS) {
      throw new ConflictError('too_many_subjects', `a stream names at most ${MAX_SUBJECTS} subjects`);
    }
    await this.#write(record.streamId, JSON.stringify(record), 0, actor);
    this.#streams.set(record.streamId, record);
    this.#changes++;
  }

  async delete(streamId: string, actor: string): Promise<void> {
    await this.get(streamId, true);
    await this.#write(streamId, '', 1, actor);
    this.#streams.delete(streamId);
    this.#changes++;
  }

  /** Seals a push endpoint's Authorization header value for `streamId`. */
  sealHeader(streamId: string, value: string): string {
    return this.#box.seal(value, `ssf-stream:${streamId}`);
  }

  /** The Authorization header to send to a push stream's endpoint, or undefined. */
  authorizationHeader(s: StreamRecord): string | undefined {
    const sealed = s.delivery.authorizationHeaderSealed;
    return sealed ? this.#box.open(sealed, `ssf-stream:${s.streamId}`) : undefined;
  }

  /** True when the stream sends events about `subject`: it named none (all subjects), or named this one. */
  static wants(s: StreamRecord, subject: SubjectId): boolean {
    if (s.subjects.length === 0) return true;
    const key = subjectKey(subject);
    return s.subjects.some((x) => subjectKey(x) === key);
  }

  /**
   * Reads every stream again. A read that a save or delete of this store overlapped may predate
   * it: it is read again (at most ten times), so that a refresh never puts back a stream as it
   * was before a change made here (a stream just created would answer 404 until the next one).
   */
  async refresh(): Promise<void> {
    const rows = await readUnchanged(
      () => this.#changes,
      () =>
        this.#store.query<{ stream_id: string; body: string; deleted: number }>(
          'SELECT stream_id, body, deleted FROM ssf_streams ORDER BY stream_id, version DESC LIMIT 1 BY stream_id',
        ),
    );
    const next = new Map<string, StreamRecord>();
    for (const r of rows) if (Number(r.deleted) === 0) next.set(r.stream_id, JSON.parse(r.body) as StreamRecord);
    this.#streams = next;
    this.#loadedAt = Date.now();
  }

  async #fresh(): Promise<void> {
    if (Date.now() - this.#loadedAt >= REFRESH_MS) await this.refresh();
  }

  async #write(streamId: string, body: string, deleted: number, actor: string): Promise<void> {
    await this.#store.insert('ssf_streams', [
      { stream_id: streamId, body, deleted, updated_by: actor, updated_at: new Date().toISOString(), version: nextVersion() },
    ]);
  }
}
