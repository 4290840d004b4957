import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable, type Writable } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';
import { LOG_SUMMARY_HEADER, SOURCE_FORMATS, logsRequestJson } from '@intentwatch/collector';
import { ConfigError } from '@intentwatch/core';
import { DEFAULT_CONFIG } from './config.js';

/**
 * `intentwatch import --format <format> FILE|-`: sends a file of an identity system's audit
 * records (NDJSON, a JSON array, or CloudTrail's `{"Records": […]}`, gzip accepted) to a running
 * collector as OTLP logs, in bounded batches, and reports what the collector made of them. It
 * converts nothing itself: the collector's mapping is the only one.
 */

export interface ImportOptions {
  format: string;
  /** A path, or `-` for standard input. */
  file: string;
  /** The collector's base URL. */
  endpoint: string;
  ingestKey?: string;
  /** Records per request. */
  batchRecords: number;
}

export interface ImportSummary {
  /** Records read from the input. */
  records: number;
  /** Lifecycle events and uses the collector made of them. */
  events: number;
  /** Records the collector rejected, and its first messages. */
  rejected: number;
  rejectedMessages: string[];
  /** Records of the format that say nothing about a token, by the collector's reason. */
  skipped: Record<string, number>;
  /** Lines or documents of the input that are not JSON objects (never sent). */
  unreadable: number;
}

/** The collector at its configured defaults (`HOST`, `OTLP_PORT`). */
export const DEFAULT_ENDPOINT = `http://${DEFAULT_CONFIG.host}:${DEFAULT_CONFIG.otlpPort}`;
const DEFAULT_BATCH = 500;
const MAX_BATCH = 5000;
/** A single JSON document (not NDJSON) is read whole; past this it is refused. */
const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;
const MAX_ATTEMPTS = 8;

export function importUsage(): string {
  return `Usage: intentwatch import --format <format> [options] FILE|-

Sends a file of audit records to a running collector (POST /v1/logs) and reports what became of
them. FILE is NDJSON, a JSON array, or a CloudTrail log file ({"Records": [...]}), optionally
gzip-compressed; - reads standard input.

Formats: ${SOURCE_FORMATS.map((f) => f.id).join(', ')}

Options:
  --endpoint URL      the collector (default ${DEFAULT_ENDPOINT}; env INTENTWATCH_ENDPOINT)
  --ingest-key KEY    sent as Authorization: Bearer KEY (env INTENTWATCH_INGEST_KEY)
  --batch N           records per request (default ${DEFAULT_BATCH}, at most ${MAX_BATCH})
  --help              this text

Exit status: 0 when every record was accepted or skipped, 2 when some were rejected, 1 on error.
`;
}

export function parseImportArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ImportOptions | 'help' {
  const opts: Partial<ImportOptions> = {
    endpoint: env.INTENTWATCH_ENDPOINT || DEFAULT_ENDPOINT,
    ingestKey: env.INTENTWATCH_INGEST_KEY || undefined,
    batchRecords: DEFAULT_BATCH,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new ConfigError(`${a} needs a value\n\n${importUsage()}`);
      return v;
    };
    if (a === '--help' || a === '-h') return 'help';
    else if (a === '--format') opts.format = value();
    else if (a === '--endpoint') opts.endpoint = value();
    else if (a === '--ingest-key') opts.ingestKey = value();
    else if (a === '--batch') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > MAX_BATCH) throw new ConfigError(`--batch must be a whole number from 1 to ${MAX_BATCH}`);
      opts.batchRecords = n;
    } else if (a.startsWith('--')) throw new ConfigError(`unknown option "${a}"\n\n${importUsage()}`);
    else if (opts.file === undefined) opts.file = a;
    else throw new ConfigError(`one input only (got "${opts.file}" and "${a}")`);
  }
  if (!opts.format) throw new ConfigError(`--format is required\n\n${importUsage()}`);
  if (!SOURCE_FORMATS.some((f) => f.id === opts.format)) {
    throw new ConfigError(`--format must be one of ${SOURCE_FORMATS.map((f) => f.id).join(', ')} (got "${opts.format}")`);
  }
  if (!opts.file) throw new ConfigError(`FILE (or - for standard input) is required\n\n${importUsage()}`);
  try {
    const url = new URL(opts.endpoint as string);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new ConfigError(`--endpoint must be an http(s) URL (got "${opts.endpoint}")`);
  }
  return opts as ImportOptions;
}

/** The input as decompressed bytes: gzip is recognised by its magic number. */
async function* inputBytes(source: Readable, onRead: (bytes: number) => void): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) return;
  const head = first.value as Buffer;
  onRead(head.length);
  const rest = Readable.from(
    (async function* () {
      yield head;
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
        onRead((r.value as Buffer).length);
        yield r.value as Buffer;
      }
    })(),
  );
  const stream = head[0] === 0x1f && head[1] === 0x8b ? rest.pipe(createGunzip()) : rest;
  for await (const chunk of stream) yield chunk as Buffer;
}

type RecordOrBad = { record: Record<string, unknown> } | { unreadable: true };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Records of one parsed JSON value: an object (a CloudTrail file's `Records` expanded), or an array of them. */
function* recordsOf(value: unknown): Generator<RecordOrBad> {
  if (Array.isArray(value)) {
    for (const v of value) yield* recordsOf(v);
  } else if (isObject(value) && Array.isArray(value.Records)) {
    for (const v of value.Records) yield isObject(v) ? { record: v } : { unreadable: true };
  } else if (isObject(value)) yield { record: value };
  else yield { unreadable: true };
}

/**
 * The records of the input: NDJSON is streamed line by line (a line may itself be a CloudTrail
 * file, which is one line); any other document (a JSON array, a pretty-printed file) is read
 * whole, up to {@link MAX_DOCUMENT_BYTES}.
 */
async function* readRecords(bytes: AsyncIterable<Buffer>): AsyncGenerator<RecordOrBad> {
  const lines = createInterface({ input: Readable.from(bytes), crlfDelay: Number.POSITIVE_INFINITY });
  const iterator = lines[Symbol.asyncIterator]();
  let first: string | undefined;
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
    if ((r.value as string).trim() !== '') {
      first = r.value as string;
      break;
    }
  }
  if (first === undefined) return;
  let parsedFirst: unknown;
  let firstIsJson = true;
  try {
    parsedFirst = JSON.parse(first);
  } catch {
    firstIsJson = false;
  }
  if (firstIsJson) {
    yield* recordsOf(parsedFirst);
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
      const line = (r.value as string).trim();
      if (!line) continue;
      try {
        yield* recordsOf(JSON.parse(line));
      } catch {
        yield { unreadable: true };
      }
    }
    return;
  }
  const parts = [first];
  let size = first.length;
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
    size += (r.value as string).length + 1;
    if (size > MAX_DOCUMENT_BYTES)
      throw new ConfigError(`the input is neither NDJSON nor a JSON document under ${MAX_DOCUMENT_BYTES} bytes`);
    parts.push(r.value as string);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(parts.join('\n'));
  } catch (e) {
    throw new ConfigError(`the input is neither NDJSON nor a JSON document: ${(e as Error).message}`);
  }
  yield* recordsOf(doc);
}

class ImportError extends Error {}

/** POSTs one batch, retrying 429/503 and connection failures with backoff; returns the collector's answer. */
async function sendBatch(opts: ImportOptions, records: Record<string, unknown>[]) {
  const body = gzipSync(logsRequestJson(records, { 'intentwatch.source': opts.format }));
  const headers: Record<string, string> = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
  if (opts.ingestKey) headers.authorization = `Bearer ${opts.ingestKey}`;
  const url = new URL('/v1/logs', opts.endpoint).toString();
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body });
    } catch (e) {
      if (attempt >= MAX_ATTEMPTS) throw new ImportError(`cannot reach the collector at ${url}: ${(e as Error).message}`);
      await backoff(attempt, undefined);
      continue;
    }
    const text = await res.text();
    if (res.status === 429 || res.status === 503) {
      if (attempt >= MAX_ATTEMPTS) throw new ImportError(`the collector answered ${res.status} ${MAX_ATTEMPTS} times; try again later`);
      await backoff(attempt, res.headers.get('retry-after'));
      continue;
    }
    if (!res.ok) {
      let message = text.slice(0, 500);
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
      } catch {}
      throw new ImportError(`the collector answered ${res.status}: ${message}`);
    }
    const summary = JSON.parse(res.headers.get(LOG_SUMMARY_HEADER) ?? '{}') as {
      events?: number;
      rejected?: number;
      skipped?: Record<string, number>;
    };
    let errorMessage = '';
    try {
      errorMessage = (JSON.parse(text) as { partialSuccess?: { errorMessage?: string } }).partialSuccess?.errorMessage ?? '';
    } catch {}
    return { ...summary, errorMessage };
  }
}

function backoff(attempt: number, retryAfter: string | null | undefined): Promise<void> {
  const seconds = Number(retryAfter);
  const ms = Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 30) * 1000 : Math.min(200 * 2 ** attempt, 10_000);
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs an import; `progress` (a terminal) gets a progress line. */
export async function runImport(
  opts: ImportOptions,
  io: { stdin?: Readable; progress?: Writable & { isTTY?: boolean } } = {},
): Promise<ImportSummary> {
  const summary: ImportSummary = { records: 0, events: 0, rejected: 0, rejectedMessages: [], skipped: {}, unreadable: 0 };
  const fromStdin = opts.file === '-';
  const total = fromStdin ? undefined : statSync(opts.file).size;
  let readBytes = 0;
  const source: Readable = fromStdin ? (io.stdin ?? process.stdin) : createReadStream(opts.file);
  const tty = io.progress?.isTTY ? io.progress : undefined;
  const showProgress = () => {
    if (!tty) return;
    const share = total ? Math.min(1, readBytes / total) : undefined;
    const bar =
      share === undefined
        ? ''
        : `[${'#'.repeat(Math.round(share * 30)).padEnd(30, '.')}] ${String(Math.floor(share * 100)).padStart(3)}%  `;
    tty.write(`\r${bar}${summary.records} records read, ${summary.events} events made, ${summary.rejected} rejected`);
  };
  let batch: Record<string, unknown>[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const answer = await sendBatch(opts, batch);
    batch = [];
    summary.events += answer.events ?? 0;
    summary.rejected += answer.rejected ?? 0;
    for (const [reason, n] of Object.entries(answer.skipped ?? {})) summary.skipped[reason] = (summary.skipped[reason] ?? 0) + n;
    if (answer.errorMessage && summary.rejectedMessages.length < 5) summary.rejectedMessages.push(answer.errorMessage);
    showProgress();
  };
  for await (const item of readRecords(
    inputBytes(source, (n) => {
      readBytes += n;
    }),
  )) {
    if ('unreadable' in item) {
      summary.unreadable++;
      continue;
    }
    summary.records++;
    batch.push(item.record);
    if (batch.length >= opts.batchRecords) await flush();
  }
  await flush();
  if (tty) tty.write('\n');
  return summary;
}

/** The summary as printed at the end of an import. */
export function formatSummary(s: ImportSummary): string {
  const lines = [`records read: ${s.records}`, `events made: ${s.events}`];
  if (s.unreadable) lines.push(`unreadable (not a JSON object, not sent): ${s.unreadable}`);
  const skipped = Object.entries(s.skipped).sort((a, b) => b[1] - a[1]);
  lines.push(`skipped: ${skipped.reduce((n, [, c]) => n + c, 0)}`);
  for (const [reason, n] of skipped) lines.push(`  ${reason}: ${n}`);
  lines.push(`rejected: ${s.rejected}`);
  for (const m of s.rejectedMessages) lines.push(`  ${m}`);
  return `${lines.join('\n')}\n`;
}

/** `intentwatch import …`: returns the exit status. */
export async function importCommand(argv: string[]): Promise<number> {
  const opts = parseImportArgs(argv);
  if (opts === 'help') {
    process.stdout.write(importUsage());
    return 0;
  }
  try {
    const summary = await runImport(opts, { progress: process.stderr });
    process.stdout.write(formatSummary(summary));
    return summary.rejected > 0 ? 2 : 0;
  } catch (e) {
    if (e instanceof ImportError) {
      process.stderr.write(`\nintentwatch import: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
