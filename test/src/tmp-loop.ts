import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Collector } from '@intentwatch/collector';
import { Store, loadConfig, migrate } from '@intentwatch/core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { maximalRequest } from './support/hostile-bodies.ts';
const dir = mkdtempSync(join(tmpdir(), 'iw-loop-'));
const config = loadConfig({ INTENTWATCH_DATA_DIR: dir }, { dotenv: false });
const store = await Store.open(config);
await migrate(store, { retentionDays: 30 });
const collector = new Collector(store, config);
const port = await collector.listen(0, '127.0.0.1');
const m = maximalRequest({ service: 'x', tokenId: 't' });
// long-task log: gaps in a 5 ms interval
let last = performance.now();
const gaps: string[] = [];
let phase = 'idle';
setInterval(() => { const now = performance.now(); if (now - last > 100) gaps.push(`${Math.round(now - last)}ms during ${phase}`); last = now; }, 5).unref();
const h = monitorEventLoopDelay({ resolution: 5 }); h.enable();
for (let i = 0; i < 2; i++) {
  phase = `request ${i}`;
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', body: m.body, headers: { 'content-type': 'application/x-protobuf' } });
  await res.arrayBuffer();
  console.log('status', res.status, Math.round(performance.now() - t0), 'ms');
}
phase = 'after';
await new Promise((r) => setTimeout(r, 500));
console.log('loop delay p99', h.percentile(99) / 1e6, 'max', h.max / 1e6);
console.log(gaps.join('\n'));
await collector.close(); await store.close();
process.exit(0);
