import os from 'node:os';
import type { Attributes, Meter, ObservableResult } from '@opentelemetry/api';
import { createLogger, registry } from '@intentwatch/core';
import type { Config } from './config.js';

/**
 * The standard OpenTelemetry variables this process's own telemetry understands (read by
 * `@opentelemetry/sdk-node` itself), plus ours. Deployment files may set these next to the
 * variables `loadConfig` reads.
 */
export const TELEMETRY_ENV = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_SDK_DISABLED',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_METRICS_EXPORTER',
  'OTEL_METRIC_EXPORT_INTERVAL',
  'OTEL_BSP_SCHEDULE_DELAY',
] as const;

const ENDPOINT_VARS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'] as const;

/** Paths whose requests are not traced: probes and scrapes every few seconds would drown the real work. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export interface Telemetry {
  /** Where spans and metrics go (the first endpoint variable set). */
  endpoint: string;
  /** Flushes buffered spans and metrics, then stops exporting. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** The role this process runs (`all`, `collector`, `detectors`, `api`): becomes `intentwatch.role`. */
  role: string;
  config: Pick<Config, 'host' | 'otlpPort' | 'selfTelemetry'>;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts exporting this process's own traces (HTTP server and client spans) and metrics (every
 * Prometheus metric of the shared registry, bridged to OpenTelemetry instruments) over OTLP,
 * when `OTEL_EXPORTER_OTLP_ENDPOINT` (or a per-signal endpoint) is set. Returns undefined when
 * it is not set, when `OTEL_SDK_DISABLED` is true, or when it names this process's own collector port: our own spans would then
 * be stored next to the agents' and every export would produce the spans of the next one.
 * `INTENTWATCH_SELF_TELEMETRY=true` allows that on purpose.
 *
 * Call it before the roles load their HTTP stack, so that the instrumentation sees it.
 */
export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry | undefined> {
  const env = options.env ?? process.env;
  const log = createLogger('cli.telemetry');
  const endpoints = ENDPOINT_VARS.map((name) => ({ name, value: env[name]?.trim() })).filter(
    (e): e is { name: (typeof ENDPOINT_VARS)[number]; value: string } => Boolean(e.value),
  );
  const first = endpoints[0];
  if (!first || /^(true|1)$/i.test(env.OTEL_SDK_DISABLED?.trim() ?? '')) return undefined;
  const servesOtlp = options.role === 'all' || options.role === 'collector';
  const loop = servesOtlp ? endpoints.find((e) => pointsAtOwnPort(e.value, options.config)) : undefined;
  if (loop && !options.config.selfTelemetry) {
    log.warn(
      { variable: loop.name, endpoint: redactEndpoint(loop.value) },
      `own telemetry not started: ${loop.name} is this process's own collector port ${options.config.otlpPort}; point it at another OTLP receiver, or set INTENTWATCH_SELF_TELEMETRY=true to store our own spans on purpose`,
    );
    return undefined;
  }

  const [{ NodeSDK }, { HttpInstrumentation }, { resourceFromAttributes }, { metrics }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/api'),
  ]);
  const sdk = new NodeSDK({
    ...(env.OTEL_SERVICE_NAME ? {} : { serviceName: 'intentwatch' }),
    resource: resourceFromAttributes({ 'intentwatch.role': options.role, 'service.instance.id': `${os.hostname()}:${process.pid}` }),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0] ?? ''),
      }),
    ],
  });
  sdk.start();
  bridgePrometheus(metrics.getMeter('intentwatch'));
  log.info({ endpoint: redactEndpoint(first.value), role: options.role }, 'exporting own traces and metrics over OTLP');

  let stopped: Promise<void> | undefined;
  return {
    endpoint: first.value,
    shutdown() {
      stopped ??= sdk.shutdown().catch((e: unknown) => log.warn({ err: String(e) }, 'telemetry did not flush on shutdown'));
      return stopped;
    },
  };
}

/** True when `endpoint` is an address of this host on the port this process's collector listens on. */
export function pointsAtOwnPort(endpoint: string, config: Pick<Config, 'host' | 'otlpPort'>): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (port !== config.otlpPort) return false;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const own = new Set(['localhost', '127.0.0.1', '::1', '0.0.0.0', '::', os.hostname().toLowerCase(), config.host.toLowerCase()]);
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) own.add(a.address.toLowerCase());
  }
  return own.has(host) || host.startsWith('127.');
}

function redactEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * Reports every metric of the Prometheus registry (what `/metrics` serves) through OpenTelemetry
 * instruments: counters as observable counters, gauges as observable gauges, histograms and
 * summaries as their `_sum` and `_count` counters. Metrics registered later (a detector that
 * starts after us) are discovered at each collection and reported from the next one on.
 */
function bridgePrometheus(meter: Meter): void {
  const bridged = new Set<string>();
  const discover = async (result: ObservableResult) => {
    for (const m of await registry.getMetricsAsJSON()) {
      if (bridged.has(m.name)) continue;
      bridged.add(m.name);
      const type = String(m.type);
      const names = type === 'histogram' || type === 'summary' ? [`${m.name}_sum`, `${m.name}_count`] : [m.name];
      for (const name of names) {
        const instrument =
          type === 'gauge'
            ? meter.createObservableGauge(name, { description: m.help })
            : meter.createObservableCounter(name, { description: m.help });
        instrument.addCallback(async (r) => {
          const metric = await registry.getSingleMetric(m.name)?.get();
          for (const v of metric?.values ?? []) {
            const sample = v as { value: number; labels: Record<string, string | number>; metricName?: string };
            if ((sample.metricName ?? m.name) !== name || !Number.isFinite(sample.value)) continue;
            r.observe(sample.value, sample.labels as Attributes);
          }
        });
      }
    }
    result.observe(bridged.size);
  };
  meter
    .createObservableGauge('intentwatch_telemetry_bridged_metrics', { description: 'Prometheus metrics reported over OTLP' })
    .addCallback(discover);
}
