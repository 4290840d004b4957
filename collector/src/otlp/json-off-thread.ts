import type { IngestLimits } from '../settings.js';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

import { LimitExceededError } from '../limits.js';
import { JsonShapeError, decodeJsonRequestYielding } from './decode-json.js';
import { type DecodedLogRecord, type DecodedResourceLogs, TooManyRecordsError, decodeLogsJson } from './logs.js';
import type { DecodedResourceSpans, DecodedSpan } from './model.js';
import type { Attributes } from '@intentwatch/core';

/**
 * OTLP/JSON bodies of at least this many bytes are decoded on a worker thread. `JSON.parse` of a
 * body runs in one go and builds every object of it at once: for a maximal body (16 MiB, 30,000
 * spans) that is one block of the event loop of ~150 ms of CPU, plus the collection of the garbage
 * it leaves, stretched many times over on a busy machine — while health checks, other senders,
 * the API and the detectors share that loop. Smaller bodies stay on the main thread (sliced),
 * where starting a thread would cost more than it saves.
 */
export const OFF_THREAD_JSON_BYTES = 1 << 20;

/** Spans or log records handed from the worker to the main thread per turn of its event loop. */
const SLICE_ITEMS = 1000;

/** Worker threads decoding at once; further large bodies wait their turn (each holds its body and its parse). */
const MAX_THREADS = 2;

/** What a decoding thread decodes: an ExportTraceServiceRequest or an ExportLogsServiceRequest. */
export type DecodeJob = { request: 'traces'; limits: IngestLimits } | { request: 'logs'; limits: IngestLimits; maxRecords: number };
export interface DecodeWorkerData {
  job: DecodeJob;
  body: Uint8Array;
  sliceItems: number;
}

export type ToDecodeWorker = 'next';
/** A piece of the decoded request, in order: a resource, then its scopes and spans (traces) or its records (logs). */
export type DecodedPiece =
  | { t: 'resource'; resource: Attributes }
  | { t: 'scope'; scopeName: string }
  | { t: 'spans'; spans: DecodedSpan[] }
  | { t: 'records'; records: DecodedLogRecord[] };
export type FromDecodeWorker =
  | DecodedPiece
  | { t: 'done' }
  | { t: 'error'; kind: 'limit'; limit: keyof IngestLimits; what: string }
  | { t: 'error'; kind: 'records'; maxRecords: number }
  | { t: 'error'; kind: 'shape' | 'other'; message: string };

let running = 0;
const waiting: (() => void)[] = [];

async function slot(): Promise<() => void> {
  if (running >= MAX_THREADS) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  return () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
}

/**
 * Decodes an OTLP/JSON ExportTraceServiceRequest as {@link decodeJsonRequestYielding} does, with
 * the same limits and errors (LimitExceededError, JsonShapeError, SyntaxError), but a large body
 * is checked, parsed and walked on a worker thread: the main thread only takes the result in, a
 * slice of spans per turn.
 */
export async function decodeJsonRequestOffThread(body: Buffer, limits: IngestLimits, sliceWork: number): Promise<DecodedResourceSpans[]> {
  if (body.length < OFF_THREAD_JSON_BYTES) return decodeJsonRequestYielding(body.toString('utf8'), limits, sliceWork);
  const out: DecodedResourceSpans[] = [];
  await offThread(body, { request: 'traces', limits }, (m) => {
    if (m.t === 'resource') out.push({ resource: m.resource, scopes: [] });
    else if (m.t === 'scope') out.at(-1)?.scopes.push({ scopeName: m.scopeName, spans: [] });
    else if (m.t === 'spans') {
      const spans = out.at(-1)?.scopes.at(-1)?.spans;
      if (spans) for (const s of m.spans) spans.push(s);
    }
  });
  return out;
}

/**
 * Decodes an OTLP/JSON ExportLogsServiceRequest as {@link decodeLogsJson} does, with the same
 * limits and errors (LimitExceededError, TooManyRecordsError, JsonShapeError, SyntaxError), but a
 * large body is checked, parsed and walked on a worker thread, as for traces: the main thread
 * only takes the result in, a slice of records per turn.
 */
export async function decodeLogsJsonOffThread(body: Buffer, maxRecords: number, limits: IngestLimits): Promise<DecodedResourceLogs[]> {
  if (body.length < OFF_THREAD_JSON_BYTES) return decodeLogsJson(body.toString('utf8'), maxRecords, limits);
  const out: DecodedResourceLogs[] = [];
  await offThread(body, { request: 'logs', limits, maxRecords }, (m) => {
    if (m.t === 'resource') out.push({ resource: m.resource, records: [] });
    else if (m.t === 'records') {
      const records = out.at(-1)?.records;
      if (records) for (const r of m.records) records.push(r);
    }
  });
  return out;
}

/** Runs `job` on a worker thread once one of the {@link MAX_THREADS} is free, handing each piece to `take`. */
async function offThread(body: Buffer, job: DecodeJob, take: (piece: DecodedPiece) => void): Promise<void> {
  const release = await slot();
  try {
    await inWorker(body, job, take);
  } finally {
    release();
  }
}

/**
 * The worker's code: the built module, or from the TypeScript sources (tests, `--conditions=source`)
 * the .ts module behind the TypeScript loader the sources run with, registered in the new thread.
 */
function workerSource(): { source: string | URL; eval: boolean; execArgv: string[] } {
  if (!import.meta.url.endsWith('.ts')) return { source: new URL('./json-decode-worker.js', import.meta.url), eval: false, execArgv: [] };
  // The ES module build of tsx's API (its `import` export; a require() resolution gives the CommonJS one).
  const api = pathToFileURL(
    createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
  const worker = new URL('./json-decode-worker.ts', import.meta.url).href;
  return {
    source: `import(${JSON.stringify(api)}).then(({ register }) => { register(); return import(${JSON.stringify(worker)}); })`,
    eval: true,
    execArgv: ['--conditions=source'],
  };
}

/** The decoding thread failed (it could not start, or stopped): not the sender's fault. */
export class DecodeThreadError extends Error {}

function inWorker(body: Buffer, job: DecodeJob, take: (piece: DecodedPiece) => void): Promise<void> {
  const { source, eval: isEval, execArgv } = workerSource();
  // The body moves to the worker without a copy when it owns its memory (the body reader joins a
  // large body into a buffer of its own; nothing reads it here afterwards); else it is copied once.
  const owned = body.byteOffset === 0 && body.buffer.byteLength === body.length && !(body.buffer instanceof SharedArrayBuffer);
  const copy = owned ? new Uint8Array(body.buffer, 0, body.length) : Uint8Array.from(body);
  const worker = new Worker(source, {
    eval: isEval,
    workerData: { job, body: copy, sliceItems: SLICE_ITEMS } satisfies DecodeWorkerData,
    transferList: [copy.buffer as ArrayBuffer],
    execArgv,
  });
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      void worker.terminate();
    };
    worker.on('message', (m: FromDecodeWorker) => {
      if (m.t === 'done') {
        settle(resolve);
        return;
      }
      if (m.t === 'error') {
        settle(() => reject(workerError(m)));
        return;
      }
      take(m);
      // The next slice is asked for on the next turn: what waits on the loop goes first.
      setImmediate(() => worker.postMessage('next' satisfies ToDecodeWorker));
    });
    worker.on('error', (e) => settle(() => reject(new DecodeThreadError(`the JSON decoding thread failed: ${e.message}`, { cause: e }))));
    worker.on('exit', (code) => settle(() => reject(new DecodeThreadError(`the JSON decoding thread stopped (exit code ${code})`))));
    worker.on('online', () => worker.postMessage('next' satisfies ToDecodeWorker));
  });
}

/** The error the decoder threw in the worker, as it would have been thrown on the main thread. */
function workerError(m: Extract<FromDecodeWorker, { t: 'error' }>): Error {
  switch (m.kind) {
    case 'limit':
      return new LimitExceededError(m.limit, m.what);
    case 'records':
      return new TooManyRecordsError(m.maxRecords);
    case 'shape':
      return new JsonShapeError(m.message);
    default:
      return new DecodeThreadError(m.message);
  }
}
