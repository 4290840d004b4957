/** Bytes copied into the joined buffer between two turns of the event loop. */
const JOIN_SLICE_BYTES = 1 << 20;

/**
 * `chunks` joined into one buffer of its own (not a slice of a shared pool, so that it can be
 * moved to a worker thread), about a megabyte per turn of the event loop. `Buffer.concat` of a
 * maximal body (16 MiB) or of a large request's insert bytes copies into fresh memory in one go,
 * which held the loop for tens of milliseconds — many times that on a busy machine.
 */
export async function joinInSlices(chunks: readonly Buffer[], length = chunks.reduce((n, c) => n + c.length, 0)): Promise<Buffer> {
  const out = Buffer.allocUnsafeSlow(length);
  let offset = 0;
  let sinceTurn = 0;
  for (const chunk of chunks) {
    if (sinceTurn >= JOIN_SLICE_BYTES) {
      sinceTurn = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    chunk.copy(out, offset);
    offset += chunk.length;
    sinceTurn += chunk.length;
  }
  return out;
}
