import { parentPort, workerData } from 'node:worker_threads';
import type { IngestLimits } from '@intentwatch/core';
import { LimitExceededError } from '../limits.js';
import { JsonShapeError, decodeJsonRequest } from './decode-json.js';
import type { DecodedResourceSpans } from './model.js';
import type { FromDecodeWorker, ToDecodeWorker } from './json-off-thread.js';

/**
 * The thread that decodes one large OTLP/JSON body (see json-off-thread.ts): the limit checks,
 * `JSON.parse` and the walk run here, in one go, while the main thread keeps answering. The result
 * is then handed over one slice of spans per request of the main thread, so that taking each slice
 * in (a structured clone) is itself a short turn of the main thread's loop.
 */

const { body, limits, sliceSpans } = workerData as { body: Uint8Array; limits: IngestLimits; sliceSpans: number };
const port = parentPort;
if (!port) throw new Error('json-decode-worker runs as a worker thread');

let decoded: DecodedResourceSpans[] | undefined;
try {
  decoded = decodeJsonRequest(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'), limits);
} catch (e) {
  const error: FromDecodeWorker =
    e instanceof LimitExceededError
      ? { t: 'error', kind: 'limit', limit: e.limit, what: e.what }
      : {
          t: 'error',
          kind: e instanceof JsonShapeError || e instanceof SyntaxError ? 'shape' : 'other',
          message: String((e as Error)?.message ?? e),
        };
  port.postMessage(error);
}

/** What is left to hand over, in order: resources, their scopes, slices of their spans. */
function* slices(all: DecodedResourceSpans[]): Generator<FromDecodeWorker> {
  for (const rs of all) {
    yield { t: 'resource', resource: rs.resource };
    for (const scope of rs.scopes) {
      yield { t: 'scope', scopeName: scope.scopeName };
      for (let i = 0; i < scope.spans.length; i += sliceSpans) yield { t: 'spans', spans: scope.spans.slice(i, i + sliceSpans) };
    }
  }
  yield { t: 'done' };
}

if (decoded) {
  const next = slices(decoded);
  decoded = undefined;
  port.on('message', (m: ToDecodeWorker) => {
    if (m !== 'next') return;
    const step = next.next();
    if (!step.done) port.postMessage(step.value);
    if (step.done || step.value.t === 'done') port.close();
  });
}
