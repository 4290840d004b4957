import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Time as a simulated actor sees it. The live fleet waits in real time; the history written at
 * start-up runs the very same routines on a virtual clock that only moves forward, so that the
 * past looks like the present (same cadence, same lifecycles) without waiting for it.
 */
export interface Clock {
  now(): number;
  /** Waits `ms` (real or virtual); resolves false when the clock stopped instead. */
  sleep(ms: number): Promise<boolean>;
  /** True once the routine should wind down. */
  done(): boolean;
}

/** Real time, stopped by an abort signal. */
export class RealClock implements Clock {
  readonly #signal: AbortSignal;

  constructor(signal: AbortSignal) {
    this.#signal = signal;
    // Every agent and episode waits on this one signal at once.
    setMaxListeners(0, signal);
  }

  now(): number {
    return Date.now();
  }

  async sleep(ms: number): Promise<boolean> {
    if (this.#signal.aborted) return false;
    try {
      await sleep(ms, undefined, { signal: this.#signal });
      return true;
    } catch {
      return false;
    }
  }

  done(): boolean {
    return this.#signal.aborted;
  }
}

/** Virtual time from `start` to `end`: sleeping moves the clock, never the process. */
export class VirtualClock implements Clock {
  #now: number;
  readonly #end: number;

  constructor(start: number, end: number) {
    this.#now = start;
    this.#end = end;
  }

  now(): number {
    return this.#now;
  }

  async sleep(ms: number): Promise<boolean> {
    this.#now += ms;
    return this.#now < this.#end;
  }

  done(): boolean {
    return this.#now >= this.#end;
  }
}
