import { ApiKeys, Api, Desk, respondersRouter, ssfPublicRouter, ssfRouter } from '@intentwatch/api';
import { Collector } from '@intentwatch/collector';
import { Store, collectProcessMetrics, createLogger, migrate, registerEngineMetrics } from '@intentwatch/core';
import { DETECTORS, DetectorService } from '@intentwatch/detectors';
import { ChatNotifier, OcsfExporter, Responder, SsfTransmitter } from '@intentwatch/responders';
import type { Args } from './args.js';
import { type Config, loadConfig } from './config.js';
import { HealthServer } from './health-server.js';

export interface Running {
  config: Readonly<Config>;
  store: Store;
  otlpPort?: number;
  apiPort?: number;
  /** `detectors` role: the port of its /healthz, /readyz and /metrics. */
  healthPort?: number;
  stop(): Promise<void>;
}

/**
 * Starts the roles `args.role` names on the configured store, after bringing the schema up to
 * date. Prints where each role listens, and the API key when one was generated.
 */
export async function start(args: Args, env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  const log = createLogger('cli');
  const config = loadConfig(env);
  const has = (role: string) => args.role === 'all' || args.role === role;
  if (!config.clickhouse && args.role !== 'all') {
    log.warn(
      { role: args.role },
      'this role runs alone on the embedded store: other roles cannot share its data dir from another process; set CLICKHOUSE_URL to split roles across processes',
    );
  }
  collectProcessMetrics();
  const store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays }).catch(async (e: unknown) => {
    await store.close();
    throw e;
  });
  registerEngineMetrics(store);
  const stops: (() => Promise<void>)[] = [];
  let stopped: Promise<void> | undefined;
  const running: Running = {
    config,
    store,
    // Idempotent: a second call (two signals, or a failed start then a signal) waits for the first.
    stop() {
      stopped ??= (async () => {
        for (const s of [...stops].reverse()) await s().catch((e: unknown) => log.error({ err: String(e) }, 'error while stopping'));
        await store.close();
      })();
      return stopped;
    },
  };
  try {
    await startRoles(args, config, running, stops, has);
  } catch (e) {
    // A role that cannot start (a port in use) must not leave the others listening or the store open.
    await running.stop();
    throw e;
  }
  return running;
}

async function startRoles(
  args: Args,
  config: Readonly<Config>,
  running: Running,
  stops: (() => Promise<void>)[],
  has: (role: string) => boolean,
): Promise<void> {
  const store = running.store;
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const where = config.clickhouse
    ? `ClickHouse at ${new URL(config.clickhouse.url).host}/${config.database}`
    : `embedded store in ${config.dataDir}`;
  say(`intentwatch ${args.role} — ${where}`);

  let collector: Collector | undefined;
  if (has('collector')) {
    const started = new Collector(store, config);
    collector = started;
    running.otlpPort = await started.listen(config.otlpPort, config.host);
    stops.push(() => started.close());
    say(
      `  collector   http://${config.host}:${running.otlpPort}/v1/traces  (OTLP/HTTP protobuf or JSON; also /v1/logs for audit logs, /v1/token-events, /v1/task-events)`,
    );
  }

  // Revoke policies and deliveries: the API manages them and queues manual revokes; the detectors role delivers.
  // The Shared Signals transmitter is a channel of the responder: same alerts, queue, audit trail and limits.
  const ssf = has('api') || has('detectors') ? await SsfTransmitter.open({ store, config }) : undefined;
  // Chat notifications (notify policies; INTENTWATCH_NOTIFY_WEBHOOK is one) are one more channel: messages go where deliveries run.
  const chat = ChatNotifier.create({ store, config });
  const channels = [...(ssf ? [ssf] : []), chat];
  const responder = has('api') || has('detectors') ? await Responder.open({ store, config, channels }) : undefined;
  if (responder) stops.push(() => responder.close());

  if (has('api')) {
    const { keys, generated } = ApiKeys.load(config.apiKeys, config.dataDir);
    const desk = new Desk(store, { defaultMaxSessionS: config.defaultMaxSessionS });
    const api = new Api({
      store,
      keys,
      // First: it answers GET /v1/alerts/:id?format=ocsf and leaves other alert requests to the desk.
      routers: [...(responder ? [respondersRouter(responder, new OcsfExporter(store))] : []), ssfRouter(ssf), ...desk.routers()],
      publicRouters: [ssfPublicRouter(ssf)],
      features: responder ? ['responders'] : [],
      onScrape: () => desk.refreshMetrics(),
      rateLimit: config.apiRateLimit,
      allowedHosts: config.allowedHosts,
    });
    running.apiPort = await api.listen(config.apiPort, config.host);
    stops.unshift(() => api.close());
    say(`  api         http://${config.host}:${running.apiPort}/  (web UI and REST API)`);
    say(
      ssf
        ? `  ssf         http://${config.host}:${running.apiPort}/.well-known/ssf-configuration  (Shared Signals transmitter, issuer ${ssf.issuer})`
        : '  ssf         off: the Shared Signals transmitter needs INTENTWATCH_SECRETS_KEY to keep its signing key encrypted',
    );
    if (generated) {
      say(`  API key     ${generated}   (admin; shown once — only its digest is kept in ${config.dataDir}/api-keys.json)`);
    } else if (!config.apiKeys) {
      say(`  API key     the admin key printed at first start (lost it? delete ${config.dataDir}/api-keys.json and restart)`);
    }
  }
  if (has('detectors')) {
    const detectors = await DetectorService.start({
      store,
      config,
      // A run that raised or updated alerts wakes the responders instead of waiting for their next look.
      onRun: (_id, outcome) => {
        if (!(outcome instanceof Error) && outcome.raised + outcome.updated + outcome.reopened > 0) responder?.notify();
      },
    });
    stops.push(() => detectors.stop());
    // With the collector in this process, what it commits is screened at once (live detection).
    const live = Boolean(collector && config.live.enabled);
    if (live) collector?.onCommitted((rows) => detectors.observe(rows));
    say(
      `  detectors   ${DETECTORS.length} detectors every ${config.detectIntervalMs} ms (${detectors.mode === 'bullmq' ? 'BullMQ jobs on REDIS_URL' : 'in-process'})${live ? ', and live on every committed batch' : ''}`,
    );
    if (responder) {
      await responder.start();
      const all = responder.policies.list();
      const policies = all.filter((p) => p.target !== 'notify');
      const notifying = all.filter((p) => p.target === 'notify').map((p) => p.id);
      say(
        `  responders  ${notifying.length ? `chat notifications (${notifying.join(', ')}); ` : ''}${policies.length ? `${policies.length} revoke polic${policies.length === 1 ? 'y' : 'ies'} (${policies.map((p) => `${p.id}${p.dryRun ? ' dry-run' : ''}`).join(', ')})` : 'no revoke policy: nothing is revoked until an admin adds one'}${config.redisUrl ? ', deliveries as BullMQ jobs' : ''}`,
      );
    }
  }
  if (args.role === 'detectors') {
    // The detectors role serves no HTTP of its own; probes and scrapes need somewhere to go.
    const health = new HealthServer({ readiness: () => store.ping(), allowedHosts: config.allowedHosts });
    running.healthPort = await health.listen(config.healthPort, config.host);
    stops.unshift(() => health.close());
    say(`  health      http://${config.host}:${running.healthPort}/healthz  (also /readyz, /metrics)`);
  }
  if (args.demo) {
    // The fleet reaches the collector over real OTLP/HTTP, as any agent would; loaded only on demand.
    const { startDemoFleet } = await import('@intentwatch/demo');
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${running.otlpPort ?? config.otlpPort}`;
    const fleet = startDemoFleet({ endpoint, ...(config.ingestKeys?.[0] ? { ingestKey: config.ingestKeys[0] } : {}), say });
    // Pushed last, so stopped first: its last spans still reach the collector.
    stops.push(() => fleet.stop());
    say(
      `  demo        a simulated organisation sends spans to ${endpoint}: ${fleet.benignAgents.length} agents work within their grants; one misuse per detector (${fleet.episodes.map((e) => e.detector).join(', ')}) a few seconds after start, then every 5 minutes`,
    );
  }
}
