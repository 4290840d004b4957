import { type IncomingMessage, type Server, createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { Collector } from '@intentwatch/collector';
import { collectorSettings } from '@intentwatch/collector/settings';
import { type Store, composeSettings, coreSettings, quoteIdentifier } from '@intentwatch/core';
import { openTestStore } from '../store.js';

/** The settings a collector reads. */
const COLLECTOR = composeSettings(coreSettings, collectorSettings);

/** A real collector on a fresh embedded store, behind a proxy that keeps every export body it forwards. */
export interface TestMonitor {
  store: Store;
  collector: Collector;
  /** Base URL agents export to (the recording proxy). */
  endpoint: string;
  /** Every request body the collector was sent, decompressed. */
  exports: Buffer[];
  /** Every row of every table, as JSON text. */
  storedText(): Promise<string>;
  close(): Promise<void>;
}

export async function startTestMonitor(): Promise<TestMonitor> {
  const t = await openTestStore({ INTENTWATCH_BATCH_MS: '20' }, { settings: COLLECTOR });
  const { store, config } = t;
  const collector = new Collector(store, config);
  const collectorPort = await collector.listen(0, '127.0.0.1');
  const exports: Buffer[] = [];
  const proxy = createServer(async (req, res) => {
    const body = await readBody(req);
    exports.push(req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body);
    const headers: Record<string, string> = {};
    for (const k of ['content-type', 'content-encoding', 'authorization']) {
      const v = req.headers[k];
      if (typeof v === 'string') headers[k] = v;
    }
    const answer = await fetch(`http://127.0.0.1:${collectorPort}${req.url}`, { method: req.method ?? 'POST', headers, body });
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/octet-stream' });
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  const proxyPort = await listen(proxy);
  return {
    store,
    collector,
    endpoint: `http://127.0.0.1:${proxyPort}`,
    exports,
    async storedText() {
      const tables = await store.query<{ name: string }>('SHOW TABLES');
      const parts: string[] = [];
      for (const { name } of tables) parts.push(JSON.stringify(await store.query(`SELECT * FROM ${quoteIdentifier(name)}`)));
      return parts.join('\n');
    },
    async close() {
      await new Promise<void>((resolve) => {
        proxy.close(() => resolve());
        proxy.closeAllConnections();
      });
      await collector.close();
      await t.dispose();
    },
  };
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
}
