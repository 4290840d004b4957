import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_INGEST_LIMITS } from '@intentwatch/collector';
import { ConfigError } from '@intentwatch/core';
import { loadConfig } from './config.js';

const load = (env: NodeJS.ProcessEnv) => loadConfig(env, { dotenv: false });

/** The ConfigError message for `env`, or fails. */
function problem(env: NodeJS.ProcessEnv): string {
  try {
    load(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has the defaults of docs/conventions.md §3', () => {
    const c = load({});
    expect(c.host).toBe('127.0.0.1');
    expect(c.otlpPort).toBe(4318);
    expect(c.apiPort).toBe(8080);
    expect(c.dataDir).toBe(path.resolve('./.intentwatch'));
    expect(c.detectIntervalMs).toBe(1000);
    expect(c.database).toBe('default');
    expect(c.clickhouse).toBeUndefined();
    expect(c.redisUrl).toBeUndefined();
    expect(c.apiKeys).toBeUndefined();
    expect(c.ingestKeys).toBeUndefined();
    expect(c.batchRows).toBe(1000);
    expect(c.batchMs).toBe(200);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads every documented variable', () => {
    const c = load({
      HOST: '0.0.0.0',
      OTLP_PORT: '0',
      API_PORT: '9090',
      INTENTWATCH_DATA_DIR: '/tmp/iw-data',
      CLICKHOUSE_URL: 'https://ch.example.com:8443',
      CLICKHOUSE_USER: 'iw',
      CLICKHOUSE_PASSWORD: 'pw',
      CLICKHOUSE_DATABASE: 'intentwatch',
      CLICKHOUSE_CLUSTER: 'main',
      REDIS_URL: 'redis://127.0.0.1:6379',
      INTENTWATCH_API_KEYS: 'admin:aaaaaaaaaaaaaaaa, viewer:bbbbbbbbbbbbbbbb',
      INTENTWATCH_INGEST_KEYS: 'cccccccccccccccc,dddddddddddddddd',
      DETECT_INTERVAL_MS: '250',
    });
    expect(c).toMatchObject({
      host: '0.0.0.0',
      otlpPort: 0,
      apiPort: 9090,
      dataDir: '/tmp/iw-data',
      database: 'intentwatch',
      clickhouse: { url: 'https://ch.example.com:8443', user: 'iw', password: 'pw', database: 'intentwatch', cluster: 'main' },
      redisUrl: 'redis://127.0.0.1:6379',
      apiKeys: [
        { role: 'admin', key: 'aaaaaaaaaaaaaaaa' },
        { role: 'viewer', key: 'bbbbbbbbbbbbbbbb' },
      ],
      ingestKeys: ['cccccccccccccccc', 'dddddddddddddddd'],
      detectIntervalMs: 250,
    });
  });

  it('reads the ingest limits, each with its default', () => {
    expect(load({}).ingestLimits).toEqual(DEFAULT_INGEST_LIMITS);
    expect(
      load({
        INTENTWATCH_MAX_SPANS_PER_REQUEST: '1000',
        INTENTWATCH_MAX_RESOURCES_PER_REQUEST: '10',
        INTENTWATCH_MAX_DECODED_ATTRIBUTES: '256',
        INTENTWATCH_MAX_VALUES_PER_SPAN: '4096',
        INTENTWATCH_MAX_ARRAY_ITEMS: '512',
        INTENTWATCH_MAX_STRING_LENGTH: '65536',
        INTENTWATCH_MAX_NESTING_DEPTH: '4',
      }).ingestLimits,
    ).toEqual({
      maxItemsPerRequest: 1000,
      maxGroupsPerRequest: 10,
      maxAttributesPerItem: 256,
      maxValuesPerItem: 4096,
      maxListItems: 512,
      maxStringLength: 65536,
      maxDepth: 4,
    });
    expect(problem({ INTENTWATCH_MAX_SPANS_PER_REQUEST: '0' })).toMatch(/INTENTWATCH_MAX_SPANS_PER_REQUEST/);
  });

  it('treats empty values as unset', () => {
    const c = load({ CLICKHOUSE_URL: '', REDIS_URL: '  ', INTENTWATCH_API_KEYS: '' });
    expect(c.clickhouse).toBeUndefined();
    expect(c.redisUrl).toBeUndefined();
    expect(c.apiKeys).toBeUndefined();
  });

  it('names the variable of each bad value', () => {
    expect(problem({ OTLP_PORT: 'http' })).toMatch(/OTLP_PORT/);
    expect(problem({ API_PORT: '70000' })).toMatch(/API_PORT: expected a port between 0 and 65535, got "70000"/);
    expect(problem({ CLICKHOUSE_URL: 'localhost:8123' })).toMatch(/CLICKHOUSE_URL: expected a URL starting with http:\/\/ or https:\/\//);
    expect(problem({ REDIS_URL: 'http://127.0.0.1:6379' })).toMatch(/REDIS_URL/);
    expect(problem({ DETECT_INTERVAL_MS: '10' })).toMatch(/DETECT_INTERVAL_MS: expected at least 50/);
    expect(problem({ CLICKHOUSE_DATABASE: 'drop table;' })).toMatch(/CLICKHOUSE_DATABASE/);
    expect(problem({ CLICKHOUSE_CLUSTER: 'c' })).toMatch(/CLICKHOUSE_CLUSTER: expected together with CLICKHOUSE_URL/);
  });

  it('derives the public URL and the Shared Signals issuer from HOST and API_PORT unless set, and reads the chat webhook', () => {
    const d = load({ HOST: '0.0.0.0', API_PORT: '9090' }).responders;
    expect(d).toMatchObject({ publicUrl: 'http://127.0.0.1:9090', ssfIssuer: 'http://127.0.0.1:9090', ssfKeyOverlapS: 86_400 });
    expect(d.notify).toBeUndefined();
    const set = load({
      INTENTWATCH_PUBLIC_URL: 'https://iw.example.com/',
      INTENTWATCH_NOTIFY_WEBHOOK: 'https://hooks.example.com/services/T/B/x',
      INTENTWATCH_NOTIFY_MIN_SEVERITY: 'critical',
    }).responders;
    expect(set).toMatchObject({ publicUrl: 'https://iw.example.com', ssfIssuer: 'https://iw.example.com' });
    expect(set.notify).toEqual({
      url: 'https://hooks.example.com/services/T/B/x',
      minSeverity: 'critical',
      maxPerMinute: 6,
      batchMs: 5000,
    });
    expect(load({ INTENTWATCH_SSF_ISSUER: 'https://ssf.example.com' }).responders.ssfIssuer).toBe('https://ssf.example.com');
    expect(problem({ INTENTWATCH_SSF_ISSUER: 'https://ssf.example.com/?a=1' })).toMatch(
      /INTENTWATCH_SSF_ISSUER: expected a URL with no query or fragment/,
    );
    expect(problem({ INTENTWATCH_NOTIFY_MIN_SEVERITY: 'urgent' })).toMatch(
      /INTENTWATCH_NOTIFY_MIN_SEVERITY: expected one of low, medium, high, critical/,
    );
    // A chat webhook URL carries its token: a bad one is named, never quoted.
    const chat = problem({ INTENTWATCH_NOTIFY_WEBHOOK: 'hooks.example.com/services/T/B/secret-part' });
    expect(chat).toMatch(/INTENTWATCH_NOTIFY_WEBHOOK/);
    expect(chat).not.toContain('secret-part');
  });

  it('names every bad variable at once', () => {
    const message = problem({ OTLP_PORT: 'x', API_PORT: '-1' });
    expect(message).toMatch(/OTLP_PORT/);
    expect(message).toMatch(/API_PORT/);
  });

  it('never repeats a bad key in its message', () => {
    const apiKeys = problem({ INTENTWATCH_API_KEYS: 'root:supersecretvalue1234' });
    expect(apiKeys).toMatch(/INTENTWATCH_API_KEYS: expected comma-separated role:key pairs/);
    expect(apiKeys).not.toContain('supersecretvalue1234');
    const ingest = problem({ INTENTWATCH_INGEST_KEYS: 'short' });
    expect(ingest).toMatch(/INTENTWATCH_INGEST_KEYS/);
    expect(ingest).not.toContain('short"');
  });
});
