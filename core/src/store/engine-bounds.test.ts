import { type TestStore, openTestStore } from '@intentwatch/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../metrics.js';
import { registerEngineMetrics } from './engine-metrics.js';
import { engineArgs } from './store.js';

const MIB = 1024 * 1024;
let t: TestStore;

// The embedded engine only: a ClickHouse server's caches are set by its own configuration.
beforeAll(async () => {
  t = await openTestStore({ INTENTWATCH_ENGINE_CACHE_MB: '32', INTENTWATCH_ENGINE_MEMORY_MB: '4096' });
});

afterAll(async () => {
  await t?.dispose();
});

async function serverSetting(name: string): Promise<number> {
  const rows = await t.store.query<{ value: string }>('SELECT value FROM system.server_settings WHERE name = {name:String}', { name });
  return Number(rows[0]?.value);
}

describe('the embedded engine’s memory bounds', () => {
  it('starts the engine with every read cache inside INTENTWATCH_ENGINE_CACHE_MB and the memory limit set', async () => {
    const caches = {
      mark_cache_size: await serverSetting('mark_cache_size'),
      primary_index_cache_size: await serverSetting('primary_index_cache_size'),
      index_mark_cache_size: await serverSetting('index_mark_cache_size'),
      compiled_expression_cache_size: await serverSetting('compiled_expression_cache_size'),
      query_condition_cache_size: await serverSetting('query_condition_cache_size'),
      uncompressed_cache_size: await serverSetting('uncompressed_cache_size'),
      index_uncompressed_cache_size: await serverSetting('index_uncompressed_cache_size'),
    };
    expect(caches.mark_cache_size).toBe(16 * MIB);
    expect(caches.uncompressed_cache_size).toBe(0);
    const sum = Object.values(caches).reduce((a, b) => a + b, 0);
    expect(sum).toBeLessThanOrEqual(32 * MIB);
    expect(Object.values(caches).filter((v) => v > 0)).toHaveLength(5);
    expect(await serverSetting('max_server_memory_usage')).toBe(4096 * MIB);
  });

  it('gives the default bounds as 256 MiB of caches and no memory limit of its own', () => {
    const args = engineArgs();
    expect(args).toContain(`--mark_cache_size=${128 * MIB}`);
    expect(args.some((a) => a.startsWith('--max_server_memory_usage'))).toBe(false);
  });

  it('reports what holds its memory, and serves it at /metrics, the mark cache within its bound', async () => {
    const now = Date.now();
    await t.store.insertPartial(
      'spans',
      Array.from({ length: 2000 }, (_, i) => ({
        time: new Date(now - i).toISOString(),
        ingested_at: new Date(now).toISOString(),
        token_id: `tok-${i % 50}`,
        span_id: `s${i}`,
      })),
    );
    await t.store.query("SELECT count() FROM spans WHERE token_id = 'tok-7'");
    const memory = await t.store.engineMemory();
    expect(memory.tracked).toBeGreaterThan(0);
    expect(memory.mark_cache).toBeGreaterThan(0);
    expect(memory.mark_cache).toBeLessThanOrEqual(16 * MIB);

    registerEngineMetrics(t.store);
    const text = await registry.getSingleMetricAsString('intentwatch_store_memory_bytes');
    const mark = /intentwatch_store_memory_bytes\{holder="mark_cache"\} (\d+)/.exec(text);
    expect(Number(mark?.[1])).toBeGreaterThan(0);
    expect(text).toMatch(/holder="tracked"\} [1-9]/);
  });
});
