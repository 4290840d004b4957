import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { registry } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFingerprint } from './index.js';
import { type TestMonitor, listen, startTestMonitor } from '@intentwatch/testkit/collector';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const agent = fileURLToPath(new URL('../testing/instrumented-agent.ts', import.meta.url));

// Fresh secrets per run, so that a match can only come from this run's export.
const OPAQUE_TOKEN = `op_${randomBytes(24).toString('base64url')}`;
const JTI = `tok-${randomBytes(6).toString('hex')}`;
const JWT_TOKEN = [
  Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url'),
  Buffer.from(JSON.stringify({ jti: JTI, sub: 'sdk-test-agent' })).toString('base64url'),
  randomBytes(32).toString('base64url'),
].join('.');
const LEAKED_SECRET = `ghp_${randomBytes(27).toString('hex').slice(0, 36)}`;
const LEAKED_RESOURCE_KEY = `AKIA${randomBytes(10).toString('hex').toUpperCase().slice(0, 16)}`;
const SECRETS = { OPAQUE_TOKEN, JWT_TOKEN, LEAKED_SECRET, LEAKED_RESOURCE_KEY };

let monitor: TestMonitor;
const presented: string[] = [];
const service = createServer((req, res) => {
  presented.push(req.headers.authorization ?? '');
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
});

interface StoredSpan {
  name: string;
  token_id: string;
  task_id: string;
  agent_id: string;
  target: string;
  resource: string;
  environment: string;
  attributes: Record<string, string>;
  resource_attributes: Record<string, string>;
}

let spans: StoredSpan[];
let stdout: string;

beforeAll(async () => {
  monitor = await startTestMonitor();
  const port = await listen(service);
  const child = await run(process.execPath, ['--conditions=source', '--import', 'tsx', agent], {
    cwd: root,
    env: {
      ...process.env,
      COLLECTOR_URL: monitor.endpoint,
      SERVICE_URL: `http://127.0.0.1:${port}`,
      OTEL_RESOURCE_ATTRIBUTES: `deploy.key=${LEAKED_RESOURCE_KEY}`,
      ...SECRETS,
    },
    timeout: 60_000,
  });
  stdout = child.stdout;
  spans = await monitor.store.query<StoredSpan>(
    'SELECT name, token_id, task_id, agent_id, target, resource, environment, attributes, resource_attributes FROM spans ORDER BY time',
  );
});

afterAll(async () => {
  service.close();
  await monitor?.close();
});

describe('an agent using the SDK', () => {
  it('presents its tokens to the service it calls', () => {
    expect(presented).toEqual([`Bearer ${OPAQUE_TOKEN}`, `Bearer ${JWT_TOKEN}`]);
  });

  it('exports node:http and fetch calls with token.id set to the fingerprint of the bearer token', () => {
    const uses = spans.filter((s) => s.token_id);
    expect(uses).toHaveLength(2);
    expect(uses[0]).toMatchObject({
      token_id: tokenFingerprint(OPAQUE_TOKEN),
      task_id: 'T-sdk-1',
      agent_id: 'sdk-test-agent',
      target: '127.0.0.1',
      resource: '/repos/acme/widgets',
      environment: 'test',
    });
    expect(uses[0]?.token_id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(uses[1]).toMatchObject({ token_id: JTI, task_id: 'T-sdk-1', resource: '/search' });
  });

  it('never records the Authorization header, even when headers are asked for', () => {
    for (const s of spans) {
      expect(Object.keys(s.attributes).filter((k) => k.includes('authorization'))).toEqual([]);
    }
    expect(
      spans.some(
        (s) => s.attributes['http.request.header.user-agent'] !== undefined || s.attributes['http.request.header.accept'] !== undefined,
      ),
    ).toBe(true);
  });

  it('redacts a secret placed in a span attribute, an event and the resource before export', () => {
    const summarise = spans.find((s) => s.name === 'summarise');
    expect(summarise?.attributes['agent.scratch']).toBe(tokenFingerprint(LEAKED_SECRET));
    expect(summarise?.task_id).toBe('T-sdk-1');
    expect(summarise?.resource_attributes['deploy.key']).toBe(tokenFingerprint(LEAKED_RESOURCE_KEY));
    expect(stdout).toMatch(/redacted [1-9]/);
  });

  it('lets no secret reach the wire or any column of any table', async () => {
    expect(monitor.exports.length).toBeGreaterThan(0);
    const wire = Buffer.concat(monitor.exports);
    const stored = await monitor.storedText();
    expect(stored).toContain(tokenFingerprint(OPAQUE_TOKEN));
    for (const [name, secret] of Object.entries(SECRETS)) {
      expect(wire.includes(secret), `${name} in an export body`).toBe(false);
      expect(stored.includes(secret), `${name} in the store`).toBe(false);
    }
    // The collector had nothing left to redact: the secrets never left the agent.
    const redacted = await registry.getSingleMetric('intentwatch_secrets_redacted_total')?.get();
    expect(redacted?.values.reduce((sum, v) => sum + v.value, 0) ?? 0).toBe(0);
  });
});
