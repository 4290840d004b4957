import { randomBytes, randomUUID } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AlertSource, Finding } from '@intentwatch/alerts';
import { type Store, composeSettings, coreSettings } from '@intentwatch/core';
import { type StoreFor, openTestStore } from '@intentwatch/testkit';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { BullmqDeliveryQueue } from '../src/bullmq-delivery-queue.js';
import { Responder } from '../src/responder.js';
import { responderSettings } from '../src/settings.js';
import { SsfTransmitter } from '../src/ssf/ssf-transmitter.js';

/** A Redis this run provides (test/src/prerequisites/global-setup.ts); empty when there is none, and then these tests are skipped. */
const REDIS_URL = process.env.INTENTWATCH_TEST_REDIS_URL ?? '';
export const SOURCE: AlertSource = { id: 'cross_service_reuse', title: 'Token reused outside its audience', frameworks: [] };

/** The settings the responders read, over the core ones. */
const SETTINGS = composeSettings(coreSettings, responderSettings);

/** What a test file of Shared Signals workers shares: one store, one Redis prefix, one push receiver. */
export interface SsfWorkers {
  readonly store: Store;
  /** The receiver's push endpoint. */
  readonly endpoint: string;
  /** Every SET the receiver got, as sent. */
  readonly received: string[];
  /** A worker process: a transmitter and the responder that drives it, on BullMQ (the configuration names REDIS_URL); closed after the test. */
  worker(store?: Store): Promise<{ ssf: SsfTransmitter; responder: Responder }>;
}

/**
 * Registers the file's hooks: a store with the responders' settings on Redis, a push receiver
 * that answers 202, workers closed after each test, and the Redis keys of the file removed at the end.
 */
export function ssfWorkers(name: string): SsfWorkers {
  let ts: StoreFor<typeof SETTINGS>;
  let receiver: Server;
  let endpoint = '';
  const prefix = `iwtest-${name}-${randomUUID().slice(0, 8)}`;
  const received: string[] = [];
  const closing: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    ts = await openTestStore(
      {
        REDIS_URL,
        INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1/32',
        INTENTWATCH_RESPONDER_POLL_MS: '25',
        INTENTWATCH_SECRETS_KEY: randomBytes(32).toString('base64'),
        INTENTWATCH_SSF_ISSUER: 'https://intentwatch.example.test',
      },
      { settings: SETTINGS },
    );
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/events`;
  });

  afterEach(async () => {
    for (const c of closing.splice(0).reverse()) await c();
  });

  afterAll(async () => {
    if (REDIS_URL) {
      const q = new BullmqDeliveryQueue({ redisUrl: REDIS_URL, prefix });
      await q.obliterate();
      const keys = await q.redis.keys(`${prefix}:*`);
      if (keys.length > 0) await q.redis.del(...keys);
      await q.close();
    }
    receiver?.closeAllConnections();
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
    await ts?.dispose();
  });

  return {
    get store() {
      return ts.store;
    },
    get endpoint() {
      return endpoint;
    },
    received,
    async worker(store: Store = ts.store) {
      const ssf = await SsfTransmitter.open({ store, config: ts.config });
      if (!ssf) throw new Error('the configuration has a secrets key');
      const responder = await Responder.open({ store, config: ts.config, channels: [ssf], redisPrefix: prefix, lagMs: 1000 });
      closing.push(() => responder.close());
      await responder.start();
      return { ssf, responder };
    },
  };
}

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
        // Only inserts wait; everything else (queries, write listeners) is the real store's as it is.
        if (prop !== 'insert') return value.bind(target);
        return async (...args: unknown[]) => {
          const [table, rows] = args as [string, Record<string, unknown>[]];
          const release = table === 'revocations' && rows.some((r) => r.status === status && String(r.dedup_key).startsWith('risk:'));
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
