export interface EventuallyOptions {
  /** How long to keep reading. @default 10_000 */
  timeoutMs?: number;
  /** Pause between reads. @default 50 */
  intervalMs?: number;
  /**
   * What is awaited, for the failure message. With a label, a timeout throws
   * `<label>: not within <timeoutMs> ms (last value: …)`; without one, the last value is returned
   * and the test's own assertion on it reports the difference.
   */
  label?: string;
}

/**
 * Reads `read()` until `done(value)` holds or the deadline passes, pausing `intervalMs` between
 * reads; returns the value that satisfied `done` (or, without a label, the last value read).
 */
export async function eventually<T>(read: () => Promise<T> | T, done: (value: T) => boolean, options: EventuallyOptions = {}): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 50, label } = options;
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() >= deadline) {
      if (label === undefined) return value;
      throw new Error(`${label}: not within ${timeoutMs} ms (last value: ${describe(value)})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
    value = await read();
  }
  return value;
}

function describe(value: unknown): string {
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 500 ? `${text.slice(0, 500)}…` : text;
  } catch {
    return String(value);
  }
}
