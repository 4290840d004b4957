import { HttpError, counter } from '@intentwatch/core';
import type { Request, Response } from 'express';
import { LimitExceededError } from '../limits.js';
import { JsonShapeError } from '../otlp/decode-json.js';
import { DecodeThreadError, decodeLogsJsonOffThread } from '../otlp/json-off-thread.js';
import {
  type DecodedResourceLogs,
  ExportLogsServiceResponse,
  MAX_LOG_RECORDS_PER_REQUEST,
  TooManyRecordsError,
  readLogsRequest,
} from '../otlp/logs.js';
import { normalizeLogs } from '../sources/normalize-logs.js';
import { PROTOBUF, type RouteContext, redacted, requests, truncated } from './shared.js';

const records = counter('intentwatch_log_records_total', 'Audit log records received on /v1/logs, by outcome', ['outcome']);

/**
 * The header of a `/v1/logs` answer that says what the records became:
 * `{"records":n,"events":n,"rejected":n,"skipped":{"<reason>":n}}`. OTLP's partial success can
 * only count rejections; `intentwatch import` reads this to report what was skipped and why.
 * Reasons come from a fixed vocabulary, so the header stays small.
 */
export const LOG_SUMMARY_HEADER = 'intentwatch-log-summary';

/**
 * `POST /v1/logs`: OTLP/HTTP logs whose records are identity systems' audit records
 * (docs/conventions.md §1.5). Answers as `/v1/traces` does: 200 with `partialSuccess`
 * (`rejectedLogRecords`, the first messages) once every stored row is committed; 413 naming the
 * limit (and its variable) for a request past one of the ingest limits, checked before anything
 * is decoded, as for traces. As for traces too, a JSON body of 1 MiB or more is decoded on a
 * worker thread (json-off-thread.ts), so that its `JSON.parse` does not hold the event loop.
 */
export function logsRoute({ options, store }: RouteContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const encoding = req.is(PROTOBUF) ? 'protobuf' : 'json';
    res.locals.encoding = encoding;
    const body = req.body instanceof Buffer ? req.body : Buffer.alloc(0);
    let decoded: DecodedResourceLogs[];
    try {
      decoded =
        encoding === 'protobuf'
          ? readLogsRequest(body, MAX_LOG_RECORDS_PER_REQUEST, options.ingestLimits)
          : await decodeLogsJsonOffThread(body, MAX_LOG_RECORDS_PER_REQUEST, options.ingestLimits);
    } catch (e) {
      if (e instanceof TooManyRecordsError) throw new HttpError(413, 'too_many_records', e.message);
      if (e instanceof LimitExceededError || e instanceof DecodeThreadError) throw e;
      const detail =
        e instanceof JsonShapeError || e instanceof SyntaxError
          ? e.message
          : e instanceof RangeError
            ? 'the message is truncated or nested too deeply'
            : String((e as Error)?.message ?? e);
      throw new HttpError(400, 'invalid_body', `the body is not an OTLP ExportLogsServiceRequest in ${encoding}: ${detail}`);
    }
    let result: ReturnType<typeof normalizeLogs>;
    try {
      result = normalizeLogs(decoded, options);
    } catch (e) {
      if (e instanceof TooManyRecordsError) throw new HttpError(413, 'too_many_records', e.message);
      throw e;
    }
    await store(result.rows);
    records.inc({ outcome: 'mapped' }, result.records - result.rejected.length - sum(result.skipped));
    if (result.rejected.length) records.inc({ outcome: 'rejected' }, result.rejected.length);
    if (sum(result.skipped)) records.inc({ outcome: 'skipped' }, sum(result.skipped));
    if (result.secretsRedacted) redacted.inc(result.secretsRedacted);
    if (result.truncated) truncated.inc(result.truncated);
    requests.inc({ endpoint: 'logs', status: '200' });
    res.setHeader(
      LOG_SUMMARY_HEADER,
      JSON.stringify({ records: result.records, events: result.events, rejected: result.rejected.length, skipped: result.skipped }),
    );
    const partial = result.rejected.length
      ? { rejectedLogRecords: result.rejected.length, errorMessage: summarize(result.rejected) }
      : undefined;
    if (encoding === 'protobuf') {
      const msg = ExportLogsServiceResponse.create(partial ? { partialSuccess: partial } : {});
      res
        .status(200)
        .type(PROTOBUF)
        .send(Buffer.from(ExportLogsServiceResponse.encode(msg).finish()));
    } else {
      res
        .status(200)
        .json(
          partial ? { partialSuccess: { rejectedLogRecords: String(partial.rejectedLogRecords), errorMessage: partial.errorMessage } } : {},
        );
    }
  };
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function summarize(messages: string[]): string {
  const shown = messages
    .slice(0, 5)
    .map((m) => (m.length > 300 ? `${m.slice(0, 300)}…` : m))
    .join('; ');
  return messages.length > 5 ? `${shown}; and ${messages.length - 5} more` : shown;
}
