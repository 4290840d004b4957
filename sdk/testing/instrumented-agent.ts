/**
 * An agent program for `agent-export.test.ts`: it starts the SDK, then calls the service at
 * SERVICE_URL with bearer tokens through `node:http` and `fetch`, inside a task, and leaks a
 * secret into an attribute, an event and (through OTEL_RESOURCE_ATTRIBUTES) its resource.
 * Runs in its own process so that `node:http` is patched as in a real agent.
 */
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAgentTelemetry, withTask } from '../src/index.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const telemetry = startAgentTelemetry({
  serviceName: 'sdk-test-agent',
  agentId: 'sdk-test-agent',
  environment: 'test',
  endpoint: env('COLLECTOR_URL'),
  batch: { scheduledDelayMillis: 50 },
  // Asking for the credential headers must not record them.
  instrument: {
    http: { headersToSpanAttributes: { client: { requestHeaders: ['authorization', 'user-agent'] } } },
    undici: { headersToSpanAttributes: { requestHeaders: ['authorization', 'accept'] } },
  },
});

// Required after the SDK started, as an agent's HTTP client would be.
const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
const service = env('SERVICE_URL');

function httpGet(path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${service}${path}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

await withTask({ id: 'T-sdk-1', agentId: 'sdk-test-agent', intent: 'read the repo' }, async () => {
  await sleep(1);
  await httpGet('/repos/acme/widgets', env('OPAQUE_TOKEN'));
  await new Promise((resolve) => setTimeout(resolve, 5));
  const res = await fetch(`${service}/search?q=widgets`, { headers: { Authorization: `Bearer ${env('JWT_TOKEN')}` } });
  await res.arrayBuffer();
  await Promise.resolve().then(() =>
    telemetry.tracer.startActiveSpan('summarise', (span) => {
      span.setAttribute('agent.scratch', env('LEAKED_SECRET'));
      span.addEvent('debug', { header: `Authorization: Bearer ${env('OPAQUE_TOKEN')}` });
      span.end();
    }),
  );
});

await telemetry.shutdown();
process.stdout.write(`redacted ${telemetry.redacted()}\n`);
