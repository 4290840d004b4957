import { parentPort, workerData } from 'node:worker_threads';
import { LimitExceededError } from '../limits.js';
import { JsonShapeError, decodeJsonRequest } from './decode-json.js';
import type { DecodeWorkerData, FromDecodeWorker, ToDecodeWorker } from './json-off-thread.js';
import type { DecodedResourceLogs } from './logs.js';
import type { DecodedResourceSpans } from './model.js';

/**
 * The thread that decodes one large OTLP/JSON body (see json-off-thread.ts), traces or logs: the
 * limit checks, `JSON.parse` and the walk run here, in one go, while the main thread keeps
 * answering. The result is then handed over one slice of spans or records per request of the
 * main thread, so that taking each slice in (a structured clone) is itself a short turn of the
 * main thread's loop.
 */

const { job, body, sliceItems } = workerData as DecodeWorkerData;
const port = parentPort;
if (!port) throw new Error('json-decode-worker runs as a worker thread');

// The logs decoder only for logs: a thread for traces does not load it (and protobufjs) first.
const logs = job.request === 'logs' ? await import('./logs.js') : undefined;

let pieces: Generator<FromDecodeWorker> | undefined;
try {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  pieces =
    job.request === 'logs' && logs
      ? logSlices(logs.decodeLogsJson(text, job.maxRecords, job.limits))
      : spanSlices(decodeJsonRequest(text, job.limits));
} catch (e) {
  const error: FromDecodeWorker =
    e instanceof LimitExceededError
      ? { t: 'error', kind: 'limit', limit: e.limit, what: e.what }
      : logs && e instanceof logs.TooManyRecordsError
        ? { t: 'error', kind: 'records', maxRecords: e.limit }
        : {
            t: 'error',
            kind: e instanceof JsonShapeError || e instanceof SyntaxError ? 'shape' : 'other',
            message: String((e as Error)?.message ?? e),
          };
  port.postMessage(error);
}

/** What is left to hand over, in order: resources, their scopes, slices of their spans. */
function* spanSlices(all: DecodedResourceSpans[]): Generator<FromDecodeWorker> {
  for (const rs of all) {
    yield { t: 'resource', resource: rs.resource };
    for (const scope of rs.scopes) {
      yield { t: 'scope', scopeName: scope.scopeName };
      for (let i = 0; i < scope.spans.length; i += sliceItems) yield { t: 'spans', spans: scope.spans.slice(i, i + sliceItems) };
    }
  }
  yield { t: 'done' };
}

/** What is left to hand over, in order: resources and slices of their records. */
function* logSlices(all: DecodedResourceLogs[]): Generator<FromDecodeWorker> {
  for (const rl of all) {
    yield { t: 'resource', resource: rl.resource };
    for (let i = 0; i < rl.records.length; i += sliceItems) yield { t: 'records', records: rl.records.slice(i, i + sliceItems) };
  }
  yield { t: 'done' };
}

if (pieces) {
  const next = pieces;
  pieces = undefined;
  port.on('message', (m: ToDecodeWorker) => {
    if (m !== 'next') return;
    const step = next.next();
    if (!step.done) port.postMessage(step.value);
    if (step.done || step.value.t === 'done') port.close();
  });
}
