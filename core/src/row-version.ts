let last = 0;

/**
 * Version for ReplacingMergeTree rows: microseconds since the epoch, strictly increasing within
 * the process, so that two updates of one row in the same millisecond keep their order. Writers
 * in other processes are ordered by their clocks; the runner's per-detector lock keeps one
 * writer per detector at a time.
 */
export function nextVersion(): number {
  last = Math.max(Date.now() * 1000, last + 1);
  return last;
}
