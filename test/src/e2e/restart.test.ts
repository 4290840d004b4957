import { MIGRATIONS } from '@intentwatch/core';
import { afterAll, describe, expect, it } from 'vitest';
import { type Running, start } from '@intentwatch/cli';
import { tempDataDir } from '../support/monitor.js';

const data = tempDataDir();
const API_KEY = 'admin-key-for-restart-test-0123';
const env = {
  INTENTWATCH_DATA_DIR: data.dir,
  HOST: '127.0.0.1',
  OTLP_PORT: '0',
  API_PORT: '0',
  INTENTWATCH_API_KEYS: `admin:${API_KEY}`,
  INTENTWATCH_BATCH_MS: '20',
};
const args = { role: 'all', demo: false, help: false } as const;
let running: Running | undefined;

afterAll(async () => {
  await running?.stop();
  data.remove();
});

async function send(r: Running, traceId: string, tokenId: string) {
  const spans = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'restart-agent' } }] },
        scopeSpans: [
          {
            spans: ['0000000000000001', '0000000000000002'].map((spanId) => ({
              traceId,
              spanId,
              name: 'use',
              startTimeUnixNano: '1795600800000000000',
              endTimeUnixNano: '1795600800100000000',
              attributes: [{ key: 'token.id', value: { stringValue: tokenId } }],
            })),
          },
        ],
      },
    ],
  };
  const base = `http://127.0.0.1:${r.otlpPort}`;
  const a = await fetch(`${base}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(spans),
  });
  expect(a.status).toBe(200);
  const b = await fetch(`${base}/v1/token-events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([{ 'token.event': 'issued', 'token.id': tokenId, time: '2026-11-25T09:00:00Z' }]),
  });
  expect(b.status).toBe(200);
}

const counts = async (r: Running) =>
  (
    await r.store.query<{ spans: string; events: string; migrations: string }>(
      `SELECT (SELECT count() FROM spans) AS spans, (SELECT count() FROM token_events) AS events,
              (SELECT count() FROM schema_migrations) AS migrations`,
    )
  )[0];

describe('intentwatch all, restarted on the same data dir', () => {
  it('keeps all data and re-runs migrations cleanly', async () => {
    running = await start(args, env);
    await send(running, '11111111111111111111111111111111', 'before-restart');
    const before = await counts(running);
    expect(before).toEqual({ spans: '2', events: '1', migrations: String(MIGRATIONS.length) });
    await running.stop();
    running = undefined;

    running = await start(args, env);
    expect(await counts(running)).toEqual(before);
    const ready = await fetch(`http://127.0.0.1:${running.apiPort}/readyz`);
    expect(ready.status).toBe(200);

    await send(running, '22222222222222222222222222222222', 'after-restart');
    expect(await counts(running)).toEqual({ spans: '4', events: '2', migrations: String(MIGRATIONS.length) });
    const tokens = await running.store.query<{ token_id: string }>('SELECT DISTINCT token_id FROM spans ORDER BY token_id');
    expect(tokens.map((r) => r.token_id)).toEqual(['after-restart', 'before-restart']);
  });
});
