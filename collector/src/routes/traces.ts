import { HttpError } from '@intentwatch/core';
import type { Request, Response } from 'express';
import { DecodeBudget, LimitExceededError } from '../limits.js';
import { normalizeInSlices, nextTurn } from '../normalize-in-slices.js';
import { JsonShapeError } from '../otlp/decode-json.js';
import { DecodeThreadError, decodeJsonRequestOffThread } from '../otlp/json-off-thread.js';
import type { DecodedResourceSpans } from '../otlp/model.js';
import { readTraceRequestYielding } from '../otlp/protobuf-reader.js';
import { ExportTraceServiceResponse } from '../otlp/proto.js';
import { type Encoding, PROTOBUF, type RouteContext, redacted, rejected, requests, truncated } from './shared.js';

/** Work (spans, attributes, nested items) decoded between two turns of the event loop. */
const DECODE_SLICE_WORK = 5000;

/**
 * `POST /v1/traces`: an OTLP ExportTraceServiceRequest in protobuf or JSON. Protobuf is read a
 * slice at a time; a JSON body of 1 MiB or more is decoded on a worker thread, a smaller one on
 * the main thread between turns of the loop. 200 (with `partialSuccess` for spans that could not
 * be stored) once every stored row is committed.
 */
export function tracesRoute({ options, store }: RouteContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const encoding: Encoding = req.is(PROTOBUF) ? 'protobuf' : 'json';
    res.locals.encoding = encoding;
    const body = req.body instanceof Buffer ? req.body : Buffer.alloc(0);
    let decoded: DecodedResourceSpans[];
    try {
      decoded =
        encoding === 'protobuf'
          ? await readTraceRequestYielding(body, new DecodeBudget(options.ingestLimits, 'spans'), DECODE_SLICE_WORK)
          : await decodeJsonRequestOffThread(body, options.ingestLimits, DECODE_SLICE_WORK);
    } catch (e) {
      if (e instanceof LimitExceededError || e instanceof DecodeThreadError) throw e;
      const detail = e instanceof JsonShapeError || e instanceof SyntaxError ? e.message : describeDecodeError(e);
      throw new HttpError(400, 'invalid_body', `the body is not an OTLP ExportTraceServiceRequest in ${encoding}: ${detail}`);
    }
    // A small JSON body was parsed here in one go: what waits on the loop goes first.
    if (encoding === 'json') await nextTurn();
    const result = await normalizeInSlices(decoded, options);
    if (result.secretsRedacted) redacted.inc(result.secretsRedacted);
    if (result.truncated) truncated.inc(result.truncated);
    await store(result.rows);
    if (result.rejectedCount) rejected.inc({ endpoint: 'traces' }, result.rejectedCount);
    requests.inc({ endpoint: 'traces', status: '200' });
    sendExportResponse(res, encoding, result.rejected, result.rejectedCount);
  };
}

/** The answer to an export: `rejectedCount` spans refused, of which `firstMessages` say why. */
function sendExportResponse(res: Response, encoding: Encoding, firstMessages: string[], rejectedCount: number): void {
  const partial = rejectedCount > 0 ? { rejectedSpans: rejectedCount, errorMessage: summarize(firstMessages, rejectedCount) } : undefined;
  if (encoding === 'protobuf') {
    const msg = ExportTraceServiceResponse.create(partial ? { partialSuccess: partial } : {});
    res
      .status(200)
      .type(PROTOBUF)
      .send(Buffer.from(ExportTraceServiceResponse.encode(msg).finish()));
  } else {
    res
      .status(200)
      .json(partial ? { partialSuccess: { rejectedSpans: String(partial.rejectedSpans), errorMessage: partial.errorMessage } } : {});
  }
}

function summarize(messages: string[], count: number): string {
  const shown = messages.slice(0, 5);
  return count > shown.length ? `${shown.join('; ')}; and ${count - shown.length} more` : shown.join('; ');
}

function describeDecodeError(e: unknown): string {
  if (e instanceof RangeError) return 'the message is truncated or nested too deeply';
  return e instanceof Error ? e.message : String(e);
}
