import type { Finding } from '@intentwatch/alerts';
import type { Store } from '@intentwatch/core';

/**
 * The real store, except that while the gate is closed, writing SETs with the status `status`
 * waits for it to open: with `queued`, a process slow between reading the held SETs and releasing
 * them; with `held`, a process slow between finding the stream paused and holding its new SETs.
 */
export class SlowWrite {
  readonly store: Store;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  #reached: (() => void) | undefined;

  constructor(real: Store, status: 'queued' | 'held' = 'queued') {
    this.store = new Proxy(real, {
      get: (target, prop) => {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          const [table, rows] = args as [string, Record<string, unknown>[]];
          const release =
            prop === 'insert' &&
            table === 'revocations' &&
            rows.some((r) => r.status === status && String(r.dedup_key).startsWith('risk:'));
          if (release && this.#gate) {
            this.#reached?.();
            await this.#gate;
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  /** Closes the gate; resolves when a release reaches it. */
  close(): Promise<void> {
    this.#gate = new Promise((r) => {
      this.#open = r;
    });
    return new Promise((r) => {
      this.#reached = r;
    });
  }

  open(): void {
    this.#gate = undefined;
    this.#open?.();
  }
}

export function finding(i: number, prefix = 'race'): Finding {
  return {
    key: 'crm',
    severity: 'high',
    reason: `token tok-${prefix}-${i} was used against crm outside its audience`,
    tokenId: `tok-${prefix}-${i}`,
    rootTokenId: `tok-${prefix}-${i}`,
    agentId: 'mail-bot',
    taskId: 'T-7',
    caller: 'mail-svc',
    target: 'crm',
    environment: 'prod',
    evidence: { traceId: 'd'.repeat(32), spanId: (i + 1).toString(16).padStart(16, '0'), time: new Date().toISOString() },
  };
}
