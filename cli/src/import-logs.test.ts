import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Collector } from '@intentwatch/collector';
import { Store, migrate } from '@intentwatch/core';
import { loadConfig } from './config.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImportOptions, formatSummary, parseImportArgs, runImport } from './import-logs.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/audit-logs/', import.meta.url));
const KEY = 'ingest-key-for-import-test';

const dir = mkdtempSync(join(tmpdir(), 'iw-import-'));
let store: Store;
let collector: Collector;
let endpoint: string;

beforeAll(async () => {
  const config = loadConfig(
    { INTENTWATCH_DATA_DIR: join(dir, 'data'), INTENTWATCH_INGEST_KEYS: KEY, INTENTWATCH_BATCH_MS: '10' },
    { dotenv: false },
  );
  store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays });
  collector = new Collector(store, config);
  endpoint = `http://127.0.0.1:${await collector.listen(0, '127.0.0.1')}`;
});

afterAll(async () => {
  await collector?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const options = (format: string, file: string, more: Partial<ImportOptions> = {}): ImportOptions => ({
  format,
  file,
  endpoint,
  ingestKey: KEY,
  batchRecords: 500,
  ...more,
});

const K8S_SKIPPED = { 'not a final stage (ResponseComplete)': 1, 'no service-account token issued, used or ended': 1 };

describe('intentwatch import', () => {
  it('sends an NDJSON audit log and reports records read, events made and skipped by reason', async () => {
    const summary = await runImport(options('kubernetes-audit', join(FIXTURES, 'kubernetes-audit.ndjson')));
    expect(summary).toEqual({ records: 5, events: 3, rejected: 0, rejectedMessages: [], skipped: K8S_SKIPPED, unreadable: 0 });
    const rows = await store.query<{ token_id: string }>("SELECT token_id FROM token_events WHERE caller = 'kube-apiserver'");
    expect(rows.map((r) => r.token_id)).toContain('7f3c2a9e-4b1d-4e5a-9c8f-2d6e1b0a5c47');
  });

  it('reads a gzip-compressed CloudTrail log file ({"Records": [...]}) and gives the same totals in small batches', async () => {
    const file = join(dir, 'trail.json.gz');
    writeFileSync(file, gzipSync(readFileSync(join(FIXTURES, 'cloudtrail.json'))));
    const whole = await runImport(options('cloudtrail', file));
    const batched = await runImport(options('cloudtrail', file, { batchRecords: 1 }));
    expect(whole).toMatchObject({ records: 4, events: 3, rejected: 0, skipped: { 'no temporary credential issued or used': 1 } });
    expect(batched).toEqual(whole);
  });

  it('reads a JSON array from standard input, counting lines that are not records and reporting rejected ones', async () => {
    const records = readFileSync(join(FIXTURES, 'kubernetes-audit.ndjson'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const input = JSON.stringify([...records, { not: 'an audit event' }, 42]);
    const summary = await runImport(options('kubernetes-audit', '-'), { stdin: Readable.from([Buffer.from(input)]) });
    expect(summary).toMatchObject({ records: 6, events: 3, rejected: 1, unreadable: 1 });
    expect(summary.rejectedMessages[0]).toContain('record 5: kubernetes-audit: a Kubernetes audit event needs auditID and user');
    expect(formatSummary(summary)).toContain('records read: 6\nevents made: 3\nunreadable (not a JSON object, not sent): 1\nskipped: 2');
  });

  it('sends a Vault audit log, and the JSON arrays Keycloak’s and Okta’s APIs return, each by its --format', async () => {
    expect(await runImport(options('vault-audit', join(FIXTURES, 'vault-audit.ndjson')))).toMatchObject({
      records: 7,
      events: 8,
      rejected: 0,
      skipped: { 'a request entry (its response entry is read)': 1 },
    });
    expect(await runImport(options('keycloak-events', join(FIXTURES, 'keycloak-events.json')))).toMatchObject({
      records: 6,
      events: 9,
      rejected: 0,
      skipped: { 'a failed event (error)': 1 },
    });
    expect(await runImport(options('okta-system-log', join(FIXTURES, 'okta-system-log.json')))).toMatchObject({
      records: 3,
      events: 2,
      rejected: 0,
      skipped: { 'not a token grant or revocation': 1 },
    });
    const grants = await store.query<{ token_id: string }>("SELECT token_id FROM token_events WHERE event = 'exchanged'");
    expect(grants.map((g) => g.token_id).sort()).toEqual(['0f1a2b3c-4d5e-4f6a-9b7c-8d9e0f1a2b34', '1a2b3c4d-5e6f-4a7b-8c8d-9e0f1a2b3c45']);
  });

  it('draws a progress line only on a terminal', async () => {
    let drawn = '';
    const tty = Object.assign(
      new (await import('node:stream')).Writable({
        write(chunk, _enc, done) {
          drawn += String(chunk);
          done();
        },
      }),
      { isTTY: true },
    );
    await runImport(options('kubernetes-audit', join(FIXTURES, 'kubernetes-audit.ndjson')), { progress: tty });
    expect(drawn).toContain('[##############################] 100%  5 records read, 3 events made, 0 rejected');
  });

  it('refuses an unknown format and a missing file argument with a message that says what is expected', () => {
    expect(() => parseImportArgs(['--format', 'syslog', 'x'], {})).toThrow(
      /--format must be one of kubernetes-audit, cloudtrail, vault-audit, keycloak-events, okta-system-log \(got "syslog"\)/,
    );
    expect(() => parseImportArgs(['--format', 'cloudtrail'], {})).toThrow(/FILE \(or - for standard input\) is required/);
    expect(parseImportArgs(['--format', 'cloudtrail', 'f'], {})).toMatchObject({ endpoint: 'http://127.0.0.1:4318', batchRecords: 500 });
  });

  it('runs as `intentwatch import`, reading standard input, and exits 1 with the collector’s reason on a wrong key', async () => {
    const run = (key: string) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const proc = spawn(
          process.execPath,
          [
            '--conditions=source',
            '--import',
            'tsx',
            MAIN,
            'import',
            '--format',
            'cloudtrail',
            '--endpoint',
            endpoint,
            '--ingest-key',
            key,
            '-',
          ],
          { env: { ...process.env, LOG_LEVEL: 'warn' } },
        );
        let out = '';
        let err = '';
        proc.stdout.on('data', (d) => {
          out += d;
        });
        proc.stderr.on('data', (d) => {
          err += d;
        });
        proc.on('close', (code) => resolve({ code, out, err }));
        proc.stdin.end(readFileSync(join(FIXTURES, 'cloudtrail.json')));
      });
    const ok = await run(KEY);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('records read: 4\nevents made: 3\n');
    const refused = await run('wrong-key');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/the collector answered 401/);
  });
});
