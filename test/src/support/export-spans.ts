/**
 * An agent process instrumented the ordinary way: `@opentelemetry/sdk-node` with an OTLP trace
 * exporter from npm, nothing from this repository's code but the span plan. Sends the plan's
 * spans for one run, plus a token and a task lifecycle span, then shuts the SDK down (which
 * flushes) and prints one JSON line with what it sent.
 *
 *   node --import tsx export-spans.ts <proto|http> <collector base URL> <run id> <span count>
 */
import { DiagConsoleLogger, DiagLogLevel, SpanKind, diag, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { planResource, plannedSpan } from './span-plan.js';

const [protocol, base, run, countText] = process.argv.slice(2);
if ((protocol !== 'proto' && protocol !== 'http') || !base || !run || !countText) {
  process.stderr.write('usage: export-spans.ts <proto|http> <collector base URL> <run id> <span count>\n');
  process.exit(2);
}
const count = Number(countText);

// Export failures surface on stderr, which the test shows when it fails.
diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

const url = `${base}/v1/traces`;
const sdk = new NodeSDK({
  resource: resourceFromAttributes(planResource(run)),
  autoDetectResources: false,
  traceExporter: protocol === 'proto' ? new ProtoExporter({ url }) : new HttpJsonExporter({ url }),
  instrumentations: [],
});
sdk.start();

const tracer = trace.getTracer('intentwatch.e2e', '1.0.0');
for (let seq = 0; seq < count; seq++) {
  const planned = plannedSpan(run, seq);
  const span = tracer.startSpan(planned.name, { kind: SpanKind.CLIENT, startTime: planned.start, attributes: planned.attributes });
  span.end([planned.start[0], planned.start[1] + 1000]);
}
tracer
  .startSpan('token issued', {
    startTime: [1_795_600_000, 1],
    attributes: {
      'token.event': 'issued',
      'token.id': `${run}-tok-0`,
      'task.id': `${run}-task-0`,
      'gen_ai.agent.id': 'triage-bot',
      'token.audience': ['github', 'jira'],
      'token.scopes': ['repo:read', 'issues:read', 'issues:write'],
      'token.resources': ['repos/acme/**'],
      'token.expires_at': '2026-11-25T11:00:00Z',
      'token.max_session_s': 7200,
    },
  })
  .end();
tracer
  .startSpan('task started', {
    startTime: [1_795_599_000, 0],
    attributes: {
      'task.event': 'started',
      'task.id': `${run}-task-0`,
      'gen_ai.agent.id': 'triage-bot',
      'task.intent': 'triage new issues',
      'task.tools': 'list_issues, create_issue',
      'task.deadline': 1_795_604_400,
    },
  })
  .end();

await sdk.shutdown();
process.stdout.write(`${JSON.stringify({ run, protocol, spans: count, lifecycle: 2 })}\n`);
