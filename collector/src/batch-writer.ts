import { HttpError, type Store, StoreError, type UsageCountRow, counter, createLogger, gauge, histogram } from '@intentwatch/core';
import { joinInSlices } from './join-in-slices.js';
import { NativeEncodeError } from './native-encoder.js';
import { ROW_FORMAT, TABLE_ENCODINGS, type TableEncoding, USAGE_COUNT_ENCODING, encodeRows, joinLines } from './row-serializer.js';
import { type RowBatch, batchSize } from './rows.js';
import { DEFAULT_COLLECTOR_SETTINGS } from './settings.js';
import { UsageCounter, mergeUsageCounts, usageCountsOf } from './usage-counts.js';

export interface BatchWriterOptions {
  /** Flush a table once this many rows wait (default: INTENTWATCH_BATCH_ROWS's). */
  batchRows?: number;
  /** Flush a table at the latest this long after its first waiting row (default: INTENTWATCH_BATCH_MS's). */
  batchMs?: number;
  /** Rows waiting or being written, past which new writes are refused with 429 (default: INTENTWATCH_MAX_PENDING_ROWS's). */
  maxPendingRows?: number;
}

const { batchRows, batchMs, maxPendingRows } = DEFAULT_COLLECTOR_SETTINGS;
const DEFAULTS: Required<BatchWriterOptions> = { batchRows, batchMs, maxPendingRows };

type TableKey = keyof RowBatch;
const TABLE_KEYS = Object.keys(TABLE_ENCODINGS) as TableKey[];

/** One request's rows for one table, and how to answer it. */
interface Part {
  /**
   * Encoded rows: JSONCompactEachRow lines, or (a large request's) the same already as bytes, a
   * slice at a time — joining tens of thousands of lines into one string and encoding it at
   * once would hold the event loop for as long.
   */
  lines: string[] | Buffer[];
  /** Or, for the embedded store, Native blocks (see {@link encodeNativeBatch}). */
  blocks?: Buffer[];
  /** Or, for the embedded store, a small request's rows, encoded with the others' at flush time (see {@link COALESCE_ROWS}). */
  small?: object[];
  /** A request's spans: the `usage_counts` rows of its token uses, written once its spans are committed. */
  counts?: UsageCountRow[];
  rows: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Pending {
  parts: Part[];
  rows: number;
  timer: NodeJS.Timeout | undefined;
}

const insertSeconds = histogram(
  'intentwatch_insert_duration_seconds',
  'Time to insert one batch into the store',
  ['table'],
  [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
);
const insertedRows = counter('intentwatch_rows_inserted_total', 'Rows committed to the store', ['table']);
const insertFailures = counter('intentwatch_insert_failures_total', 'Batches the store refused', ['table']);
const pendingGauge = gauge('intentwatch_ingest_pending_rows', 'Rows accepted by the collector and not yet committed');

/** Requests of more rows than this are encoded to bytes in slices (see {@link encodeInSlices}). */
const ENCODE_SLICE_ROWS = 2000;

/** Rows encoded between two turns of the event loop (a few milliseconds of work). */
const ENCODE_ROWS_PER_TURN = 500;

/** Usage counts of one flush merged in one go, at most (see {@link BatchWriter} `#count`). */
const MERGE_COUNTS_UP_TO = 2000;

/**
 * On the embedded store, requests of fewer rows than this are kept as rows and encoded together
 * at flush time, into blocks of up to {@link ENCODE_ROWS_PER_TURN} rows: the engine's cost of a
 * Native block has a fixed part per column (it converts each column to the table's type), so
 * blocks of a few rows cost it more than JSON does (measured on the benchmark's spans, 2,000-row
 * inserts: blocks of 16 rows ~20 % more CPU than JSON, of 64 rows ~10 % less, of 512 rows ~45 %
 * less). Larger requests are encoded on arrival, one block each.
 */
const COALESCE_ROWS = 256;

/**
 * `slice(from, to)` over [0, length) in slices of {@link ENCODE_ROWS_PER_TURN} rows, one slice
 * per turn of the event loop: a turn before each slice but the first (and before the first too
 * when `turnFirst`). The results in order.
 */
async function inTurns<T>(length: number, slice: (from: number, to: number) => T, turnFirst = false): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < length; i += ENCODE_ROWS_PER_TURN) {
    if (i > 0 || turnFirst) await new Promise<void>((resolve) => setImmediate(resolve));
    out.push(slice(i, Math.min(length, i + ENCODE_ROWS_PER_TURN)));
  }
  return out;
}

/** The usage counts of a request's spans, {@link ENCODE_ROWS_PER_TURN} rows per turn of the event loop. */
async function countInTurns(spans: RowBatch['spans']): Promise<UsageCountRow[]> {
  const counter = new UsageCounter();
  await inTurns(spans.length, (from, to) => counter.add(spans, from, to));
  return counter.rows();
}

/**
 * Every table's rows encoded to insert bytes, {@link ENCODE_ROWS_PER_TURN} at a time with a
 * `setImmediate` turn between slices.
 */
async function encodeInSlices(batch: RowBatch): Promise<Partial<Record<TableKey, Buffer[]>>> {
  const out: Partial<Record<TableKey, Buffer[]>> = {};
  for (const key of TABLE_KEYS) {
    const rows: object[] = batch[key];
    out[key] = await inTurns(rows.length, (from, to) => joinLines([encodeRows(TABLE_ENCODINGS[key], rows.slice(from, to))]));
  }
  return out;
}

/**
 * Every table's rows of one request as Native blocks, for the embedded store. A request of
 * {@link COALESCE_ROWS} rows or more is encoded on arrival, by itself, rather than at flush time:
 * a waiting batch then holds compact bytes instead of row objects; the encoding cost falls where
 * it did for JSON, spread over arrivals instead of in one burst per flush; a request whose rows
 * cannot be encoded is refused alone, before any of its rows is queued; and a flush is the
 * requests' blocks written one after another (a Native stream is any number of blocks), with no
 * copy and no re-encoding, also when a failed batch is retried one request at a time. A large
 * request is encoded {@link ENCODE_ROWS_PER_TURN} rows (one block) per turn of the event loop,
 * the same bound as the JSON route. Smaller requests wait as rows and are encoded together at
 * flush time (see {@link COALESCE_ROWS}), in slices of the same size.
 */
function encodeNativeBatch(batch: RowBatch): Partial<Record<TableKey, Buffer[]>> {
  const out: Partial<Record<TableKey, Buffer[]>> = {};
  for (const key of TABLE_KEYS) if (batch[key].length > 0) out[key] = [TABLE_ENCODINGS[key].native.encode(batch[key])];
  return out;
}

/** {@link encodeNativeBatch} for a large request: a block of {@link ENCODE_ROWS_PER_TURN} rows per turn of the event loop. */
async function encodeNativeInSlices(batch: RowBatch): Promise<Partial<Record<TableKey, Buffer[]>>> {
  const out: Partial<Record<TableKey, Buffer[]>> = {};
  let turned = false;
  for (const key of TABLE_KEYS) {
    out[key] = await nativeBlocksInTurns(TABLE_ENCODINGS[key], batch[key], turned);
    turned ||= batch[key].length > 0;
  }
  return out;
}

/**
 * `rows` as Native blocks of {@link ENCODE_ROWS_PER_TURN} rows, one block per turn of the event
 * loop: a turn before each block but the first (and before the first too when `turnFirst`).
 */
async function nativeBlocksInTurns(encoding: TableEncoding, rows: readonly object[], turnFirst = false): Promise<Buffer[]> {
  return inTurns(
    rows.length,
    (from, to) => encoding.native.encode(rows.length <= ENCODE_ROWS_PER_TURN ? rows : rows.slice(from, to)),
    turnFirst,
  );
}

/** `rows` as JSON lines, {@link ENCODE_ROWS_PER_TURN} rows per turn of the event loop. */
function linesInTurns(encoding: TableEncoding, rows: readonly object[]): Promise<string[][]> {
  return inTurns(rows.length, (from, to) => encodeRows(encoding, rows.slice(from, to)));
}

/** One insert body from the parts of many requests: lines joined, bytes appended (a megabyte per turn). */
async function insertBody(parts: readonly (string[] | Buffer[])[]): Promise<Buffer> {
  const lines: string[][] = [];
  const bytes: Buffer[] = [];
  for (const part of parts) {
    if (part.length > 0 && Buffer.isBuffer(part[0])) bytes.push(...(part as Buffer[]));
    else lines.push(part as string[]);
  }
  return bytes.length === 0 ? joinLines(lines) : joinInSlices([joinLines(lines), ...bytes]);
}

/**
 * Groups the rows of many requests into few inserts: a table is flushed when `batchRows` rows
 * wait or `batchMs` after its first waiting row, whichever comes first, one insert per table at a
 * time; the other tables' waiting rows go with it. `write` resolves only when every row it was given is committed, so the collector can
 * answer 2xx knowing the data is durable; it rejects when the store refused the batch, and
 * refuses at once (429) when more than `maxPendingRows` rows are already waiting.
 */
export class BatchWriter {
  readonly #store: Store;
  readonly #options: Required<BatchWriterOptions>;
  readonly #log = createLogger('collector.writer');
  readonly #pending = new Map<TableKey, Pending>();
  /** Native blocks through a file for the embedded store, JSONCompactEachRow for a server (whose client takes no Native). */
  readonly #native: boolean;
  readonly #inFlight = new Map<TableKey, Promise<void>>();
  #pendingRows = 0;
  #closed = false;

  constructor(store: Store, options: BatchWriterOptions = {}) {
    this.#store = store;
    this.#native = store.nativeInsert;
    this.#options = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  }

  /** Rows accepted and not yet committed. */
  get pendingRows(): number {
    return this.#pendingRows;
  }

  /** Queues the rows and resolves when all are committed. */
  async write(batch: RowBatch): Promise<void> {
    if (this.#closed) throw new HttpError(503, 'shutting_down', 'the collector is shutting down', { headers: { 'Retry-After': '5' } });
    const size = batchSize(batch);
    if (size === 0) return;
    // A request larger than the limit on its own is still taken when nothing waits: refusing it
    // would make its sender retry the same body forever. The body limit bounds it anyway.
    if (this.#pendingRows > 0 && this.#pendingRows + size > this.#options.maxPendingRows) {
      throw new HttpError(429, 'overloaded', `the collector has ${this.#pendingRows} rows waiting for the store; retry shortly`, {
        headers: { 'Retry-After': '1' },
      });
    }
    this.#addPending(size);
    try {
      const waits: Promise<void>[] = [];
      const counts = batch.spans.length > ENCODE_ROWS_PER_TURN ? await countInTurns(batch.spans) : usageCountsOf(batch.spans);
      if (this.#native) {
        // As for JSON: a small request (the usual case) is encoded and queued in this turn.
        let blocks: Partial<Record<TableKey, Buffer[]>>;
        if (size < COALESCE_ROWS) blocks = {};
        else if (size > ENCODE_SLICE_ROWS) blocks = await encodeNativeInSlices(batch).catch(refuseUnencodable);
        else {
          try {
            blocks = encodeNativeBatch(batch);
          } catch (e) {
            refuseUnencodable(e);
          }
        }
        for (const key of TABLE_KEYS) {
          const rows = batch[key];
          if (rows.length > 0) waits.push(this.#enqueue(key, rows, undefined, blocks[key] ?? [], counts));
        }
      } else {
        // A large request is encoded a slice at a time, giving the event loop back in between;
        // a small one (the usual case) is encoded at once, as before.
        const encoded = size > ENCODE_SLICE_ROWS ? await encodeInSlices(batch) : undefined;
        for (const key of TABLE_KEYS) {
          const rows = batch[key];
          if (rows.length > 0) waits.push(this.#enqueue(key, rows, encoded?.[key], undefined, counts));
        }
      }
      await Promise.all(waits);
    } finally {
      this.#addPending(-size);
    }
  }

  /** Flushes everything waiting and refuses new writes. */
  async close(): Promise<void> {
    this.#closed = true;
    const keys = [...this.#pending.keys()];
    await Promise.allSettled(keys.map((k) => this.#flush(k)));
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  #addPending(n: number): void {
    this.#pendingRows += n;
    pendingGauge.set(this.#pendingRows);
  }

  #enqueue(key: TableKey, rows: object[], encoded?: Buffer[], blocks?: Buffer[], counts?: UsageCountRow[]): Promise<void> {
    let p = this.#pending.get(key);
    if (!p) {
      p = { parts: [], rows: 0, timer: undefined };
      p.timer = setTimeout(() => void this.#flush(key), this.#options.batchMs);
      this.#pending.set(key, p);
    }
    const pending = p;
    // Encoded on arrival, so a waiting batch holds compact strings rather than row objects.
    const lines = blocks ? [] : (encoded ?? encodeRows(TABLE_ENCODINGS[key], rows));
    // On the embedded store a request arrives encoded, or (a small one) as its rows.
    const native = blocks ? (blocks.length > 0 ? { blocks } : { small: rows }) : {};
    const promise = new Promise<void>((resolve, reject) => {
      pending.parts.push({
        lines,
        ...native,
        ...(key === 'spans' && counts?.length ? { counts } : {}),
        rows: rows.length,
        resolve,
        reject,
      });
    });
    p.rows += rows.length;
    // Closed while this request was being encoded: close() flushed before these rows arrived.
    if (p.rows >= this.#options.batchRows || this.#closed) void this.#flush(key);
    return promise;
  }

  /**
   * Writes the table's waiting rows, and with them every other table's that is not being written
   * (`alone` for those): a request's rows of a low-volume table — the lifecycle events that
   * lifecycle detections wait for — are committed with the next batch of the busy table
   * instead of waiting out `batchMs`, and a request whose rows span tables is answered after one
   * round of inserts, not two.
   */
  async #flush(key: TableKey, alone = false): Promise<void> {
    // One insert per table at a time: rows arriving meanwhile form the next, larger batch.
    const running = this.#inFlight.get(key);
    if (running) {
      await running;
      if (this.#inFlight.has(key)) return; // another waiter started the next flush
    }
    const p = this.#pending.get(key);
    if (!p) return;
    this.#pending.delete(key);
    clearTimeout(p.timer);
    const work = this.#insert(key, p).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, work);
    if (!alone) {
      for (const other of [...this.#pending.keys()]) if (!this.#inFlight.has(other)) void this.#flush(other, true);
    }
    await work;
  }

  async #insert(key: TableKey, pending: Pending): Promise<void> {
    const { table } = TABLE_ENCODINGS[key];
    let p = pending;
    let blocks: Buffer[] | undefined;
    if (this.#native) {
      try {
        ({ pending: p, blocks } = await this.#encodeSmall(key, pending));
      } catch (e) {
        // Not a value of the rows (those are answered by request): a fault of the encoder.
        this.#log.error({ table, rows: p.rows, err: e instanceof Error ? e.message : String(e) }, 'encoding failed');
        for (const part of p.parts) part.reject(refused(table, e, false));
        return;
      }
      if (p.parts.length === 0) return;
    }
    try {
      await this.#insertParts(key, p.parts, p.rows, blocks);
    } catch (e) {
      const unavailable = e instanceof StoreError && e.code === 'store_unavailable';
      this.#log.error({ table, rows: p.rows, err: firstLineOf(e) }, 'insert failed');
      if (unavailable || p.parts.length === 1) {
        for (const part of p.parts) part.reject(refused(table, e, p.parts.length === 1 && !unavailable));
        return;
      }
      return this.#insertOneByOne(key, p.parts);
    }
    await this.#count(p.parts);
  }

  /**
   * The store refused a batch for its data, not its availability: one request's rows must not
   * fail every sender batched with it (and be retried by all of them forever), so each request
   * is tried on its own; only the one the store still refuses is told so.
   */
  async #insertOneByOne(key: TableKey, parts: readonly Part[]): Promise<void> {
    const { table } = TABLE_ENCODINGS[key];
    const committed: Part[] = [];
    for (const part of parts) {
      try {
        await this.#insertParts(key, [part], part.rows);
        committed.push(part);
      } catch (e) {
        const unavailable = e instanceof StoreError && e.code === 'store_unavailable';
        part.reject(refused(table, e, !unavailable));
      }
    }
    await this.#count(committed);
  }

  /**
   * Writes the usage counts of committed spans (`usage_counts`, read by `usage_anomaly`), then
   * answers their requests: only the uses the store holds are counted. When the store refuses
   * the counts, the requests are answered 503 like any request of which a table was not
   * written (their spans are kept; a retry stores them again, as for a request whose events
   * were refused after its spans).
   */
  async #count(parts: readonly Part[]): Promise<void> {
    const counted = parts.flatMap((part) => (part.counts ? [part.counts] : []));
    if (counted.length > 0) {
      // Rows of one agent, token and second from several requests added together: fewer rows to
      // write. Past a few thousand (a sender's uses each a count of its own) they go as they are,
      // the table adds them up itself, and the event loop is not held for the merge.
      const total = counted.reduce((n, c) => n + c.length, 0);
      const rows = total <= MERGE_COUNTS_UP_TO ? mergeUsageCounts(counted) : counted.flat();
      const started = performance.now();
      const { table, columns } = USAGE_COUNT_ENCODING;
      try {
        // As the spans: Native blocks on the embedded store, JSON lines for a server; a block or a
        // slice of lines per turn of the event loop (a request's uses may each be a count).
        if (this.#native) await this.#store.insertNative(table, columns, await nativeBlocksInTurns(USAGE_COUNT_ENCODING, rows));
        else
          await this.#store.insertFormatted(table, columns, ROW_FORMAT, await insertBody(await linesInTurns(USAGE_COUNT_ENCODING, rows)));
      } catch (e) {
        insertFailures.inc({ table });
        this.#log.error({ table, rows: rows.length, err: firstLineOf(e) }, 'insert failed');
        const answer = refused(
          table,
          e,
          false,
          'the spans of this batch were stored but the store did not accept their usage counts; retry',
        );
        for (const part of parts) part.reject(answer);
        return;
      }
      insertSeconds.observe({ table }, (performance.now() - started) / 1000);
      insertedRows.inc({ table }, rows.length);
    }
    for (const part of parts) part.resolve();
  }

  /**
   * The small requests' rows of a batch encoded together, with the other requests' blocks: the
   * blocks of the insert. A request among them whose rows cannot be encoded is answered 400 and
   * left out (found by encoding each on its own, only when encoding them together failed).
   */
  async #encodeSmall(key: TableKey, p: Pending): Promise<{ pending: Pending; blocks: Buffer[] }> {
    const small = p.parts.filter((part) => part.small);
    const large = p.parts.flatMap((part) => part.blocks ?? []);
    if (small.length === 0) return { pending: p, blocks: large };
    const encoding = TABLE_ENCODINGS[key];
    try {
      const rows = small.length === 1 ? (small[0]?.small as object[]) : small.flatMap((part) => part.small as object[]);
      return { pending: p, blocks: [...(await nativeBlocksInTurns(encoding, rows)), ...large] };
    } catch (e) {
      if (!(e instanceof NativeEncodeError)) throw e;
    }
    const kept: Part[] = [];
    const blocks: Buffer[] = [];
    for (const part of p.parts) {
      if (!part.small) {
        kept.push(part);
        continue;
      }
      try {
        blocks.push(encoding.native.encode(part.small));
        kept.push(part);
      } catch (e) {
        part.reject(unencodableAnswer(e));
      }
    }
    return { pending: { ...p, parts: kept, rows: kept.reduce((n, part) => n + part.rows, 0) }, blocks: [...blocks, ...large] };
  }

  async #insertParts(key: TableKey, parts: readonly Part[], rows: number, blocks?: Buffer[]): Promise<void> {
    const { table, columns } = TABLE_ENCODINGS[key];
    const started = performance.now();
    try {
      if (this.#native)
        await this.#store.insertNative(
          table,
          columns,
          // One request retried alone: its own blocks, or its rows encoded again.
          blocks ?? parts.flatMap((part) => part.blocks ?? (part.small ? [TABLE_ENCODINGS[key].native.encode(part.small)] : [])),
        );
      else await this.#store.insertFormatted(table, columns, ROW_FORMAT, await insertBody(parts.map((part) => part.lines)));
    } catch (e) {
      insertFailures.inc({ table });
      throw e;
    }
    insertSeconds.observe({ table }, (performance.now() - started) / 1000);
    insertedRows.inc({ table }, rows);
  }
}

/** The answer to a request whose rows cannot be encoded: 400 naming the value (any other error as it is). */
function unencodableAnswer(e: unknown): unknown {
  return e instanceof NativeEncodeError
    ? new HttpError(400, 'rows_refused', `the store refused these rows: ${e.message}`, { cause: e })
    : e;
}

/** Throws {@link unencodableAnswer} (nothing of the request was queued). */
function refuseUnencodable(e: unknown): never {
  throw unencodableAnswer(e);
}

/**
 * ClickHouse errors that blame the data sent, not the server (its error names and messages). A
 * CHECK constraint of the table (VIOLATED_CONSTRAINT) refuses the same rows every time too.
 */
const DATA_ERROR =
  /CANNOT_PARSE|Cannot parse|INCORRECT_DATA|TYPE_MISMATCH|CANNOT_READ|ATTEMPT_TO_READ_AFTER_EOF|TOO_LARGE_STRING_SIZE|ARGUMENT_OUT_OF_BOUND|DECIMAL_OVERFLOW|VALUE_IS_OUT_OF_RANGE|INCORRECT_NUMBER_OF_COLUMNS|VIOLATED_CONSTRAINT/;

/**
 * The answer to a request whose rows were not stored: 503 (retry later) while the store is
 * unavailable or the cause is unknown; 400 when the store refused exactly these rows for what
 * they contain (a parse or type error), since sending them again cannot succeed. `message`
 * replaces the 503's when part of the request was stored.
 */
function refused(table: string, cause: unknown, rowsAtFault: boolean, message?: string): HttpError {
  if (rowsAtFault && cause instanceof StoreError && cause.code === 'store_failed' && DATA_ERROR.test(cause.message)) {
    return new HttpError(400, 'rows_refused', `the store refused these rows (${table}): ${firstLineOf(cause)}`, { cause });
  }
  const unavailable = cause instanceof StoreError && cause.code === 'store_unavailable';
  return new HttpError(
    503,
    unavailable ? 'store_unavailable' : 'store_failed',
    message ?? `the store did not accept the batch (${table}); nothing was stored, retry`,
    { cause, headers: { 'Retry-After': unavailable ? '5' : '2' } },
  );
}

/** The first line of an error's message, at most 300 characters: the engine's goes on to quote the rows it was reading. */
function firstLineOf(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n', 1)[0]?.slice(0, 300) ?? '';
}
