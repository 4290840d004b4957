import { type Attributes, type Tracer, context, createContextKey, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { HttpInstrumentationConfig } from '@opentelemetry/instrumentation-http';
import type { UndiciInstrumentationConfig } from '@opentelemetry/instrumentation-undici';
import { type Resource, defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type BufferConfig,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR } from './attributes.js';
import { type TokenHeaderOptions, createHttpInstrumentation, createUndiciInstrumentation } from './http-hooks.js';
import { SecretRedactingSpanProcessor, redactAttributes } from './secret-redacting-span-processor.js';
import { TaskContextSpanProcessor } from './task-context-span-processor.js';

/** Options of {@link startAgentTelemetry} and {@link createAgentTracerProvider}. */
export interface AgentTelemetryOptions {
  /** `service.name` of the process (the caller of every token use). Required. */
  serviceName: string;
  /**
   * Base URL of the intentwatch collector (or any OTLP/HTTP receiver), e.g.
   * `http://127.0.0.1:4318`; spans go to `<endpoint>/v1/traces`. Default: the standard
   * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://localhost:4318`.
   */
  endpoint?: string;
  /** `gen_ai.agent.id` on every span (resource attribute). Default: none (the collector falls back to `service.name`). */
  agentId?: string;
  /** `workload.id` on every span (SPIFFE ID, OIDC subject). Default: none. */
  workloadId?: string;
  /** `deployment.environment.name`. Default: none. */
  environment?: string;
  /** Key the collector requires (`INTENTWATCH_INGEST_KEYS`), sent as `Authorization: Bearer`. Default: none. */
  ingestKey?: string;
  /** Further headers on export requests. */
  headers?: Record<string, string>;
  /** Further resource attributes (secret-looking values are redacted like any other). */
  resourceAttributes?: Attributes;
  /** Where spans go instead of OTLP/HTTP protobuf (tests, other backends). */
  exporter?: SpanExporter;
  /** Batching of exports. Default: OpenTelemetry's (512 spans, every 5 s). */
  batch?: BufferConfig;
  /** Called with how many secrets were redacted from a span before export. */
  onRedact?: (count: number) => void;
}

/** Options of {@link startAgentTelemetry} only: what to instrument. */
export interface InstrumentOptions {
  /** Instrument `node:http`/`node:https` client requests; `false` to leave them. Default on. */
  http?: false | (HttpInstrumentationConfig & TokenHeaderOptions);
  /** Instrument undici and the global `fetch`; `false` to leave them. Default on. */
  undici?: false | (UndiciInstrumentationConfig & TokenHeaderOptions);
}

/** A running agent telemetry pipeline. */
export interface AgentTelemetry {
  tracer: Tracer;
  /** Secrets redacted from spans so far (they were exported as fingerprints). */
  redacted(): number;
  /** Exports every ended span now. */
  forceFlush(): Promise<void>;
  /** Exports what is left and stops; call before the process exits. */
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry for an agent process: a NodeSDK (registered globally) whose spans carry
 * the task of `withTask`, have their secrets replaced by fingerprints, and go to the collector
 * over OTLP/HTTP; outgoing `http`/`https`/`fetch`/undici requests get `token.id` from their
 * `Authorization` header, which is never recorded. Call it before the agent loads its HTTP
 * clients (the `http` module is patched when it is required).
 *
 * @example
 * const telemetry = startAgentTelemetry({ serviceName: 'triage-bot', agentId: 'triage-bot', endpoint: 'http://127.0.0.1:4318' });
 * await withTask({ id: 'T-9', agentId: 'triage-bot' }, () => fetch(url, { headers: { authorization: `Bearer ${token}` } }));
 * await telemetry.shutdown();
 */
export function startAgentTelemetry(options: AgentTelemetryOptions & { instrument?: InstrumentOptions }): AgentTelemetry {
  const { processors, redactor } = buildProcessors(options);
  const instrumentations = [];
  if (options.instrument?.http !== false) instrumentations.push(createHttpInstrumentation(options.instrument?.http || {}));
  if (options.instrument?.undici !== false) instrumentations.push(createUndiciInstrumentation(options.instrument?.undici || {}));
  const sdk = new NodeSDK({
    resource: agentResource(options),
    autoDetectResources: false,
    spanProcessors: processors,
    instrumentations,
    // Traces only: an agent's metrics and logs are not intentwatch's to receive.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return {
    tracer: trace.getTracer('@intentwatch/sdk'),
    redacted: () => redactor.redacted,
    forceFlush: () => redactor.forceFlush(),
    shutdown: () => sdk.shutdown(),
  };
}

/**
 * A tracer provider with the same pipeline as {@link startAgentTelemetry} (task context, secret
 * redaction, OTLP/HTTP export) that is not registered globally and instruments nothing: for a
 * process that speaks for several services (a broker and an orchestrator side by side, a
 * simulation). Calls {@link ensureContextManager} so that `withTask` works.
 */
export function createAgentTracerProvider(options: AgentTelemetryOptions): BasicTracerProvider & { redacted(): number } {
  ensureContextManager();
  const { processors, redactor } = buildProcessors(options);
  const provider = new BasicTracerProvider({ resource: agentResource(options), spanProcessors: processors });
  return Object.assign(provider, { redacted: () => redactor.redacted });
}

/**
 * Registers an AsyncLocalStorage context manager unless one that follows async work is already
 * registered (NodeSDK registers one), so that context set by `withTask` survives `await`.
 */
export function ensureContextManager(): void {
  const probe = createContextKey('intentwatch.probe');
  const follows = context.with(context.active().setValue(probe, true), () => context.active().getValue(probe) === true);
  if (!follows) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

function buildProcessors(options: AgentTelemetryOptions): { processors: SpanProcessor[]; redactor: SecretRedactingSpanProcessor } {
  if (!options.serviceName) throw new TypeError('agent telemetry requires serviceName');
  const exporter = options.exporter ?? otlpExporter(options);
  const redactor = new SecretRedactingSpanProcessor({
    next: new BatchSpanProcessor(exporter, options.batch),
    ...(options.onRedact ? { onRedact: options.onRedact } : {}),
  });
  return { processors: [new TaskContextSpanProcessor(), redactor], redactor };
}

function otlpExporter(options: AgentTelemetryOptions): SpanExporter {
  const headers: Record<string, string> = { ...options.headers };
  if (options.ingestKey) headers.authorization = `Bearer ${options.ingestKey}`;
  return new OTLPTraceExporter({
    ...(options.endpoint ? { url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` } : {}),
    ...(Object.keys(headers).length ? { headers } : {}),
  });
}

/** The process's resource, settled and with secrets already replaced. */
function agentResource(options: AgentTelemetryOptions): Resource {
  const own: Attributes = { ...options.resourceAttributes, [ATTR.serviceName]: options.serviceName };
  if (options.agentId) own[ATTR.agentId] = options.agentId;
  if (options.workloadId) own[ATTR.workloadId] = options.workloadId;
  if (options.environment) own[ATTR.environment] = options.environment;
  const merged = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes(own));
  const attributes = { ...merged.attributes };
  redactAttributes(attributes);
  return resourceFromAttributes(attributes);
}
