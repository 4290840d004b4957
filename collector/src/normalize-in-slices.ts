import { type NormalizeOptions, normalizeSpans } from './normalize.js';
import type { DecodedResourceSpans } from './otlp/model.js';
import { emptyBatch, type RowBatch } from './rows.js';

/**
 * Spans normalised between two turns of the event loop (a few milliseconds of work on a quiet
 * core; 1,000 were one of the longest blocks left in a profile of a maximal request).
 */
export const NORMALIZE_SLICE_SPANS = 250;

/** Rejection messages kept for an answer; the rest are only counted. */
export const MAX_REJECTIONS_LISTED = 5;

export interface SlicedNormalizeResult {
  rows: RowBatch;
  /** The first {@link MAX_REJECTIONS_LISTED} rejection messages. */
  rejected: string[];
  /** Every span rejected. */
  rejectedCount: number;
  dropped: number;
  secretsRedacted: number;
  truncated: number;
}

/** One turn of the event loop: what is waiting (health checks, other senders, the API) runs first. */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * {@link normalizeSpans} over a request a slice of `sliceSpans` spans at a time, with a turn of
 * the event loop between slices, so that a request of tens of thousands of spans never holds the
 * loop for long. Rows and counts are those of one call over the whole request; rejection messages
 * are counted and only the first few kept, so that memory and the answer do not grow with them.
 */
export async function normalizeInSlices(
  resourceSpans: DecodedResourceSpans[],
  options: NormalizeOptions,
  sliceSpans = NORMALIZE_SLICE_SPANS,
  now = Date.now(),
): Promise<SlicedNormalizeResult> {
  const out: SlicedNormalizeResult = { rows: emptyBatch(), rejected: [], rejectedCount: 0, dropped: 0, secretsRedacted: 0, truncated: 0 };
  let index = 0;
  let inSlice = 0;
  let slice: DecodedResourceSpans[] = [];
  const normalizeSlice = () => {
    const r = normalizeSpans(slice, options, now, index);
    for (const key of Object.keys(out.rows) as (keyof RowBatch)[]) {
      const into: object[] = out.rows[key];
      for (const row of r.rows[key]) into.push(row);
    }
    for (const m of r.rejected) if (out.rejected.length < MAX_REJECTIONS_LISTED) out.rejected.push(m);
    out.rejectedCount += r.rejected.length;
    out.dropped += r.dropped;
    out.secretsRedacted += r.secretsRedacted;
    out.truncated += r.truncated;
    index += inSlice;
    slice = [];
    inSlice = 0;
  };
  for (const rs of resourceSpans) {
    for (const scope of rs.scopes) {
      for (let i = 0; i < scope.spans.length; ) {
        const take = Math.min(sliceSpans - inSlice, scope.spans.length - i);
        const part = {
          scopeName: scope.scopeName,
          spans: i === 0 && take === scope.spans.length ? scope.spans : scope.spans.slice(i, i + take),
        };
        // Scopes of one resource stay together, so that the resource is normalised once per slice.
        const last = slice[slice.length - 1];
        if (last && last.resource === rs.resource) last.scopes.push(part);
        else slice.push({ resource: rs.resource, scopes: [part] });
        inSlice += take;
        i += take;
        if (inSlice >= sliceSpans) {
          normalizeSlice();
          await nextTurn();
        }
      }
    }
  }
  if (inSlice > 0) normalizeSlice();
  return out;
}
