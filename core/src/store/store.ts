import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open as openFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import type { CoreSettings } from '../config.js';
import { StoreError } from '../errors.js';
import { createLogger } from '../logger.js';
import type { TableName, TableRows } from '../schema/index.js';

export type StoreKind = 'embedded' | 'server';

export type QueryParams = Record<string, unknown>;

/** Told the table of each insert this store has committed (see {@link Store.onWrite}). */
export type WriteListener = (table: string) => void;

/** R, with every key that is not a column of `Row` made an error: the rows of an insert name only their table's columns. */
export type OnlyColumns<Row, R> = R & { [K in Exclude<keyof R, keyof Row>]: never };

/** Row formats {@link Store.insertFormatted} accepts: one row per line, so batches concatenate. */
export type InsertFormat = 'JSONCompactEachRow' | 'JSONEachRow';

/** chDB's raw insert: the encoded rows go to the engine's parser as bytes, with no SQL built around them. */
type RawInsert = (params: {
  table: string;
  values: Buffer;
  format: InsertFormat;
  columns?: readonly string[];
  settings?: Record<string, string | number | boolean>;
}) => Promise<unknown>;

/** chDB's own query call, with no settings or parameters added around the SQL. */
type RawQuery = (sql: string) => Promise<unknown>;

/** Settings for inserts of encoded rows: the input rules of every other statement, and null means the column's default. */
const INSERT_SETTINGS = {
  date_time_input_format: 'best_effort',
  input_format_skip_unknown_fields: 0,
  input_format_null_as_default: 1,
} as const;

/**
 * Settings of every insert into a cluster (`CLICKHOUSE_CLUSTER`): the tables written are
 * `Distributed`, whose inserts by default land in a local queue on the server that received them
 * and reach the shards later — an acknowledged row could then be lost with that server.
 * `distributed_foreground_insert` makes the insert return only once every shard has its rows,
 * so that a 2xx from the collector means stored. Sent with each insert rather than left to the
 * server's profile (`deploy/clickhouse/users.xml` sets it too), so that a cluster configured
 * otherwise still keeps the guarantee.
 */
export const CLUSTER_INSERT_SETTINGS: Readonly<ClickHouseSettings> = Object.freeze({ distributed_foreground_insert: 1 });

/** What a {@link Store} needs from the configuration (`engine` defaults to {@link DEFAULT_ENGINE_BOUNDS}). */
export type StoreConfig = Pick<CoreSettings, 'dataDir' | 'database' | 'clickhouse'> & Partial<Pick<CoreSettings, 'engine'>>;

/** Memory bounds of the embedded engine: its caches in all, and optionally its whole memory, in MiB. */
export interface EngineBounds {
  cacheMb: number;
  memoryMb?: number;
}

export const DEFAULT_ENGINE_BOUNDS: Readonly<EngineBounds> = Object.freeze({ cacheMb: 256 });

const MIB = 1024 * 1024;

/**
 * The embedded engine's server settings, as the arguments it starts with. Left to itself the
 * engine sizes its caches for a database server that owns the machine: 5 GiB each for marks,
 * primary indexes and skip-index marks, bounded only by half the RAM. Here it shares a process
 * with the monitor, so every cache that reading our MergeTree tables fills gets a share of
 * `cacheMb`, and the ones we never use are off:
 *
 * - marks (`mark_cache_size`) 50 %: where each granule of each column of each part starts; every
 *   detector query reads them.
 * - primary index (`primary_index_cache_size`) 20 %: the sort keys of parts, read by every query.
 * - skip-index marks (`index_mark_cache_size`) 15 %: the bloom filters' and minmax indexes' marks.
 * - compiled expressions (`compiled_expression_cache_size`) 10 %.
 * - query conditions (`query_condition_cache_size`) 5 %: which granules a filter already ruled out.
 * - uncompressed blocks, skip-index blocks and query results (`uncompressed_cache_size`,
 *   `index_uncompressed_cache_size`, `query_cache.max_size_in_bytes`): 0, as the engine's own
 *   defaults have them; said here so that the bound does not depend on a default.
 *
 * `memoryMb` sets `max_server_memory_usage`: past it a query or merge fails (a detector run is
 * retried on its next turn, an insert answers 503) instead of the process growing.
 */
export function engineArgs(bounds: EngineBounds = DEFAULT_ENGINE_BOUNDS): string[] {
  const total = bounds.cacheMb * MIB;
  const share = (fraction: number) => String(Math.floor(total * fraction));
  return [
    `--mark_cache_size=${share(0.5)}`,
    `--primary_index_cache_size=${share(0.2)}`,
    `--index_mark_cache_size=${share(0.15)}`,
    `--compiled_expression_cache_size=${share(0.1)}`,
    `--query_condition_cache_size=${share(0.05)}`,
    '--uncompressed_cache_size=0',
    '--index_uncompressed_cache_size=0',
    '--query_cache.max_size_in_bytes=0',
    ...(bounds.memoryMb !== undefined ? [`--max_server_memory_usage=${bounds.memoryMb * MIB}`] : []),
  ];
}

/** The memory the embedded engine reports (`system.metrics`), by what holds it. */
export const ENGINE_MEMORY_METRICS = {
  MemoryTracking: 'tracked',
  MarkCacheBytes: 'mark_cache',
  PrimaryIndexCacheBytes: 'primary_index_cache',
  IndexMarkCacheBytes: 'index_mark_cache',
  UncompressedCacheBytes: 'uncompressed_cache',
  CompiledExpressionCacheBytes: 'compiled_expression_cache',
  QueryConditionCacheBytes: 'query_condition_cache',
  MergesMutationsMemoryTracking: 'merges',
} as const;

/**
 * Settings every query runs with, on both connections. 64-bit integers are quoted in JSON so
 * that counts and UInt64 hashes keep their precision in JavaScript; dates come back as
 * RFC 3339 and are read in any common form.
 */
const SETTINGS: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 1,
  date_time_output_format: 'iso',
  date_time_input_format: 'best_effort',
  input_format_skip_unknown_fields: 0,
};

/**
 * The client's own logger prints every failed request to stderr as multi-line text, outside the
 * JSON log: each failure already reaches the caller as a StoreError, which it logs once.
 */
const CLIENT_LOG = { level: ClickHouseLogLevel.OFF };

/**
 * The only door to ClickHouse. Two connections, one code path: `embedded` runs chDB in this
 * process (data under `dataDir`), `server` speaks HTTP to a ClickHouse server or cluster. Every
 * value reaches SQL as a query parameter (`{name:Type}`), never by string building.
 */
export class Store {
  readonly kind: StoreKind;
  readonly database: string;
  readonly cluster: string | undefined;
  readonly #client: ClickHouseClient;
  readonly #rawInsert: RawInsert | undefined;
  /** The embedded engine's first connection, which started it with {@link engineArgs}; closed last. */
  #engine: { close(): void } | undefined;
  readonly #rawQuery: RawQuery | undefined;
  /** The private directory {@link insertNative} writes its files in, made on first use. */
  #fileDir: string | undefined;
  #fileSeq = 0;
  /** Settings every insert carries on top of the connection's (see {@link CLUSTER_INSERT_SETTINGS}). */
  readonly #insertSettings: ClickHouseSettings;
  readonly #writeListeners = new Set<{ listener: WriteListener; failed: boolean }>();

  private constructor(
    kind: StoreKind,
    client: ClickHouseClient,
    database: string,
    cluster: string | undefined,
    rawInsert?: RawInsert,
    rawQuery?: RawQuery,
  ) {
    this.kind = kind;
    this.#client = client;
    this.database = database;
    this.cluster = cluster;
    this.#rawInsert = rawInsert;
    this.#rawQuery = rawQuery;
    this.#insertSettings = cluster ? CLUSTER_INSERT_SETTINGS : {};
  }

  /**
   * Opens the store the configuration names: a server when `clickhouse` is set, else the
   * embedded engine in `dataDir/clickhouse`. Creates the database when missing. Only one
   * process may hold an embedded data dir; a second one fails with a StoreError saying so.
   */
  static async open(config: StoreConfig): Promise<Store> {
    const database = config.database;
    if (config.clickhouse) {
      const { url, user, password, cluster } = config.clickhouse;
      const base = { url, ...(user ? { username: user } : {}), ...(password ? { password } : {}) };
      const bootstrap = createClient({ ...base, clickhouse_settings: SETTINGS, log: CLIENT_LOG });
      try {
        await bootstrap.command({
          query: `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}${cluster ? ` ON CLUSTER ${quoteIdentifier(cluster)}` : ''}`,
        });
      } catch (cause) {
        throw new StoreError(`cannot reach ClickHouse at ${redactUrl(url)}: ${messageOf(cause)}`, { cause, code: 'store_unavailable' });
      } finally {
        await bootstrap.close();
      }
      const client = createClient({
        ...base,
        database,
        clickhouse_settings: { ...SETTINGS, async_insert: 0 },
        request_timeout: 60_000,
        log: CLIENT_LOG,
      });
      return new Store('server', client, database, cluster);
    }

    const dir = `${config.dataDir}/clickhouse`;
    mkdirSync(dir, { recursive: true });
    let createChdbConnection: (options: { path: string }) => { chdb: { rawInsert: RawInsert; queryAsync: RawQuery } };
    let Session: new (path: string, options: { connectionArgs: string[] }) => { close(): void };
    try {
      ({ createChdbConnection } = (await import('chdb/connection')) as { createChdbConnection: typeof createChdbConnection });
      ({ Session } = (await import('chdb')) as unknown as { Session: typeof Session });
    } catch (cause) {
      throw new StoreError(
        'the embedded store needs the optional package "chdb" (npm install chdb), or set CLICKHOUSE_URL to use a ClickHouse server',
        { cause, code: 'store_unavailable' },
      );
    }
    let client: ClickHouseClient;
    let engine: { close(): void } | undefined;
    try {
      // The engine starts with the arguments of the first connection to its data dir and keeps
      // them while any connection is open; the client's connections below join it.
      engine = new Session(dir, { connectionArgs: engineArgs(config.engine) });
      const connection = createChdbConnection({ path: dir });
      client = createClient({
        // biome-ignore lint/suspicious/noExplicitAny: the connection hook is typed loosely upstream
        connection: connection as any,
        clickhouse_settings: SETTINGS,
        log: CLIENT_LOG,
      } as Parameters<typeof createClient>[0]);
      const store = new Store(
        'embedded',
        client,
        database,
        undefined,
        (p) => connection.chdb.rawInsert(p),
        (sql) => connection.chdb.queryAsync(sql),
      );
      if (database !== 'default') {
        await store.command(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}`);
        await client.close();
        const inDatabase = createChdbConnection({ path: dir });
        client = createClient({
          // biome-ignore lint/suspicious/noExplicitAny: as above
          connection: inDatabase as any,
          database,
          clickhouse_settings: SETTINGS,
          log: CLIENT_LOG,
        } as Parameters<typeof createClient>[0]);
        const inDb = new Store(
          'embedded',
          client,
          database,
          undefined,
          (p) => inDatabase.chdb.rawInsert({ ...p, table: `${database}.${p.table}` }),
          (sql) => inDatabase.chdb.queryAsync(sql),
        );
        inDb.#engine = engine;
        return inDb;
      }
      await store.ping();
      store.#engine = engine;
      return store;
    } catch (cause) {
      engine?.close();
      const holder = lockHolder(dir);
      const lockHint =
        holder !== undefined || /lock|status/i.test(messageOf(cause))
          ? ` (another process${holder ? `, pid ${holder},` : ''} holds this data dir: the embedded store belongs to one process; stop it or set INTENTWATCH_DATA_DIR)`
          : '';
      throw new StoreError(`cannot open the embedded store in ${dir}: ${messageOf(cause)}${lockHint}`, {
        cause,
        code: 'store_unavailable',
      });
    }
  }

  /** Runs a SELECT and returns its rows as objects. */
  async query<T = Record<string, unknown>>(sql: string, params?: QueryParams, settings?: ClickHouseSettings): Promise<T[]> {
    try {
      const result = await this.#client.query({
        query: sql,
        format: 'JSONEachRow',
        ...(params ? { query_params: params } : {}),
        ...(settings ? { clickhouse_settings: settings } : {}),
      });
      return (await result.json()) as T[];
    } catch (cause) {
      throw wrap('query', cause);
    }
  }

  /** Runs a statement that returns no rows (DDL, INSERT … SELECT, ALTER). */
  async command(sql: string, params?: QueryParams, settings?: ClickHouseSettings): Promise<void> {
    try {
      await this.#client.command({
        query: sql,
        ...(params ? { query_params: params } : {}),
        ...(settings ? { clickhouse_settings: settings } : {}),
      });
    } catch (cause) {
      throw wrap('command', cause);
    }
  }

  /**
   * Inserts whole rows of `table` (objects keyed by column, typed by the table's row in
   * `core/src/schema`) and resolves once ClickHouse has committed them. A row that misses a
   * column, or names one the table lacks, does not compile.
   */
  async insert<T extends TableName, R extends TableRows[T]>(table: T, rows: readonly OnlyColumns<TableRows[T], R>[]): Promise<void> {
    return this.#insertRows(table, rows);
  }

  /**
   * Inserts rows that name only some columns of `table`; the others take their defaults. For
   * fixtures that set up a case; a writer of the product uses {@link insert}, so that a column it
   * forgets is a compile error rather than a silent default.
   */
  async insertPartial<T extends TableName, R extends Partial<TableRows[T]>>(
    table: T,
    rows: readonly OnlyColumns<TableRows[T], R>[],
  ): Promise<void> {
    return this.#insertRows(table, rows);
  }

  async #insertRows(table: string, rows: readonly object[]): Promise<void> {
    if (rows.length === 0) return;
    try {
      await this.#client.insert({ table, values: rows as object[], format: 'JSONEachRow', clickhouse_settings: this.#insertSettings });
    } catch (cause) {
      throw wrap(`insert into ${table}`, cause);
    }
    this.#wrote(table);
  }

  /**
   * Inserts rows already encoded in `format` (one row per line, `columns` in order) and resolves
   * once ClickHouse has committed them. This is the ingest path on a server (the collector uses
   * {@link insertNative} on the embedded store): ClickHouse parses the bytes itself, so no
   * per-row object or SQL text is built in JavaScript (several times faster than {@link insert}
   * for wide rows; see BENCHMARKS.md). Columns left out, or given as null for a non-Nullable
   * column, take their defaults.
   */
  async insertFormatted(table: string, columns: readonly string[], format: InsertFormat, body: Buffer): Promise<void> {
    if (body.length === 0) return;
    try {
      if (this.#rawInsert) {
        await this.#rawInsert({ table, values: body, format, columns, settings: INSERT_SETTINGS });
      } else {
        await this.#client.insert({
          table,
          values: Readable.from([body]),
          format,
          columns: [...columns] as [string, ...string[]],
          clickhouse_settings: { ...INSERT_SETTINGS, ...this.#insertSettings },
        });
      }
    } catch (cause) {
      if ((cause as { code?: string })?.code === 'CHDB_CLOSED') {
        throw new StoreError(`insert into ${table} failed: Connection is closed`, { cause, code: 'store_unavailable' });
      }
      throw wrap(`insert into ${table}`, cause);
    }
    this.#wrote(table);
  }

  /** True when this store takes {@link insertNative}: the embedded engine does, a server (through its client) does not. */
  get nativeInsert(): boolean {
    return this.#rawQuery !== undefined;
  }

  /**
   * Inserts a stream of Native blocks (`columns` named in each block, in this order) and resolves
   * once the engine has committed them; embedded store only ({@link nativeInsert}). The engine
   * parses Native for a fraction of what JSON costs it (see STACK-NOTES, "chDB insert formats"),
   * but chDB's inline insert takes text only (it cuts the payload at the first blank line), so
   * the blocks go through a file: written private (0600, a new name, in a 0700 directory of this
   * store's own, on /dev/shm when there is one so that it never touches a disk), read by
   * `INSERT … FROM INFILE`, and removed whatever the outcome. Errors as {@link insertFormatted}.
   */
  async insertNative(table: string, columns: readonly string[], blocks: readonly Buffer[]): Promise<void> {
    const rawQuery = this.#rawQuery;
    if (!rawQuery) throw new StoreError('Native inserts need the embedded store', { code: 'store_failed' });
    if (blocks.every((b) => b.length === 0)) return;
    const where = this.database === 'default' ? quoteIdentifier(table) : `${quoteIdentifier(this.database)}.${quoteIdentifier(table)}`;
    let file: string | undefined;
    try {
      file = await this.#writeInsertFile(blocks);
      await rawQuery(
        `INSERT INTO ${where} (${columns.map(quoteIdentifier).join(', ')}) FROM INFILE ${quoteString(file)} ` +
          'SETTINGS input_format_null_as_default = 1, input_format_native_allow_types_conversion = 1 FORMAT Native',
      );
    } catch (cause) {
      if ((cause as { code?: string })?.code === 'CHDB_CLOSED') {
        throw new StoreError(`insert into ${table} failed: Connection is closed`, { cause, code: 'store_unavailable' });
      }
      if (file === undefined) {
        // The file could not be written (memory or space): nothing about the rows, retry later.
        throw new StoreError(`insert into ${table} failed: cannot write its file: ${messageOf(cause)}`, {
          cause,
          code: 'store_unavailable',
        });
      }
      throw wrap(`insert into ${table}`, cause);
    } finally {
      if (file !== undefined) await unlink(file).catch(() => undefined);
    }
    this.#wrote(table);
  }

  /** The blocks in a new private file of this store's directory; its path. */
  async #writeInsertFile(blocks: readonly Buffer[]): Promise<string> {
    if (this.#fileDir === undefined || !existsSync(this.#fileDir)) {
      // mkdtemp makes the directory 0700 with a name no one else holds.
      const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
      removeStaleInsertDirs(base);
      this.#fileDir = mkdtempSync(join(base, `${INSERT_DIR_PREFIX}${process.pid}-`));
    }
    const file = join(this.#fileDir, `${++this.#fileSeq}.native`);
    // 'wx': a new file only (never one planted under the name), readable by this user alone.
    const handle = await openFile(file, 'wx', 0o600);
    try {
      for (let i = 0; i < blocks.length; i += WRITEV_BLOCKS) {
        const group = blocks.slice(i, i + WRITEV_BLOCKS);
        const length = group.reduce((n, b) => n + b.length, 0);
        const { bytesWritten } = await handle.writev(group);
        // A short write (rare; only past a few GiB): the rest of the group one block at a time.
        if (bytesWritten < length) await writeRest(handle, group, bytesWritten);
      }
    } catch (e) {
      await handle.close().catch(() => undefined);
      await unlink(file).catch(() => undefined);
      throw e;
    }
    await handle.close();
    return file;
  }

  /**
   * True when this process makes every write to the store: the embedded engine's data dir
   * belongs to one process (chDB's rule), so {@link onWrite} hears of every insert and a reader
   * may wait for it instead of polling. False for a server, which other processes write too.
   */
  get seesAllWrites(): boolean {
    return this.kind === 'embedded';
  }

  /**
   * Calls `listener` with the table's name after each insert through this store commits
   * ({@link insert}, {@link insertPartial}, {@link insertFormatted}, {@link insertNative}; not a
   * failed or empty one, nor a statement run by {@link command}). Called synchronously, in the
   * order of subscription; a listener that throws is skipped and the insert still succeeds, so it
   * should only note the change and do its work later. Returns the function that unsubscribes.
   *
   * @example
   * const off = store.onWrite((table) => { if (table === 'alerts') reader.wake(); });
   * // …
   * off();
   */
  onWrite(listener: WriteListener): () => void {
    // An entry per subscription: the same function subscribed twice is told twice and unsubscribed once each.
    const entry = { listener, failed: false };
    this.#writeListeners.add(entry);
    return () => {
      this.#writeListeners.delete(entry);
    };
  }

  #wrote(table: string): void {
    for (const entry of this.#writeListeners) {
      try {
        entry.listener(table);
      } catch (e) {
        // A listener's failure is its own: the rows are committed and the insert has succeeded.
        // Said once per subscription, not once per insert.
        if (!entry.failed)
          createLogger('core.store').error({ table, err: messageOf(e) }, 'a store write listener failed; the insert stands');
        entry.failed = true;
      }
    }
  }

  /** True when the store answers. */
  async ping(): Promise<boolean> {
    try {
      const r = await this.#client.ping();
      return r.success;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.#client.close();
    this.#engine?.close();
    this.#engine = undefined;
    if (this.#fileDir !== undefined) rmSync(this.#fileDir, { recursive: true, force: true });
  }

  /**
   * The embedded engine's memory by what holds it (bytes, keyed by the values of
   * {@link ENGINE_MEMORY_METRICS}); empty for a ClickHouse server, whose memory is its own.
   */
  async engineMemory(): Promise<Record<string, number>> {
    if (this.kind !== 'embedded') return {};
    const rows = await this.query<{ metric: keyof typeof ENGINE_MEMORY_METRICS; value: string }>(
      'SELECT metric, value FROM system.metrics WHERE metric IN {names:Array(String)}',
      { names: Object.keys(ENGINE_MEMORY_METRICS) },
    );
    return Object.fromEntries(rows.map((r) => [ENGINE_MEMORY_METRICS[r.metric], Number(r.value)]));
  }
}

const INSERT_DIR_PREFIX = 'intentwatch-insert-';
/** An insert directory untouched this long whose process is gone was left by a crash. */
const STALE_INSERT_DIR_MS = 10 * 60_000;

/**
 * Removes the insert directories of processes that ended without closing their store (a crash,
 * a kill): on /dev/shm what they held would otherwise take memory until the next reboot. Only
 * directories whose process is not running and that nothing has touched for a while; another
 * user's cannot be removed and are left alone.
 */
function removeStaleInsertDirs(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name.startsWith(INSERT_DIR_PREFIX) ? name.slice(INSERT_DIR_PREFIX.length).split('-', 1)[0] : Number.NaN);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processRuns(pid)) continue;
    const dir = join(base, name);
    try {
      if (Date.now() - statSync(dir).mtimeMs > STALE_INSERT_DIR_MS) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Not ours, or gone already.
    }
  }
}

/** True when a process `pid` is running (one of another user's too). */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Blocks handed to one `writev` (under every system's IOV_MAX). */
const WRITEV_BLOCKS = 512;

async function writeRest(handle: import('node:fs/promises').FileHandle, group: readonly Buffer[], done: number): Promise<void> {
  let skip = done;
  for (const b of group) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    let at = skip;
    skip = 0;
    while (at < b.length) at += (await handle.write(b, at, b.length - at)).bytesWritten;
  }
}

/** A ClickHouse string literal (for a file path of our own making; values go as query parameters). */
function quoteString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Quotes a ClickHouse identifier (database, table, cluster) with backticks. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

/**
 * The live process that holds an embedded data dir, from the `status` file the engine keeps
 * there while it runs. chDB reports a held lock only on stderr; the error it throws just says the
 * connection failed, which names no cause a user can act on.
 */
function lockHolder(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(/^PID:\s*(\d+)/m.exec(readFileSync(`${dir}/status`, 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
  return pid && pid !== process.pid && processRuns(pid) ? pid : undefined;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function redactUrl(u: string): string {
  try {
    const parsed = new URL(u);
    parsed.password = '';
    parsed.username = '';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

// Conditions that pass: the caller should retry later rather than give up. A closed connection
// (the process is stopping) is one of them: the data was fine, the store was not there.
const UNAVAILABLE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket hang up|Timeout error|TOO_MANY_SIMULTANEOUS_QUERIES|MEMORY_LIMIT_EXCEEDED|TOO_MANY_PARTS|Connection is closed/i;

function wrap(what: string, cause: unknown): StoreError {
  const message = messageOf(cause);
  return new StoreError(`${what} failed: ${message}`, {
    cause,
    code: UNAVAILABLE.test(message) || (cause as { code?: string })?.code === 'ECONNREFUSED' ? 'store_unavailable' : 'store_failed',
  });
}
