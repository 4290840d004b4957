import { randomBytes } from 'node:crypto';
import { TaskEvents, TokenEvents, createAgentTracerProvider } from '@intentwatch/sdk';
import { DemoAgent } from './agent.js';
import { DemoBroker } from './broker.js';
import { RealClock, VirtualClock } from './clock.js';
import { McpDesk } from './mcp/desk.js';
import { EPISODES, type Episode } from './misuse/index.js';
import { BENIGN_AGENTS, BENIGN_ROLES, BROKER_SERVICE, CRAWLER_ROLE, ENVIRONMENT, ORCHESTRATOR_SERVICE } from './organisation.js';
import { SteadyWorker } from './steady-worker.js';

/** Options of {@link startDemoFleet}. */
export interface DemoOptions {
  /** Base URL of the collector, e.g. `http://127.0.0.1:4318`. Required. */
  endpoint: string;
  /** A key of `INTENTWATCH_INGEST_KEYS`, when the collector requires one. */
  ingestKey?: string;
  /** `deployment.environment.name` of the organisation. Default `prod`. */
  environment?: string;
  /** Minutes of ordinary, back-dated history written at start for the crawler, so that its baseline exists. Default 20. */
  historyMinutes?: number;
  /**
   * Write the benign agents' history too. Only for a store that holds none of their recent
   * spans (a fresh data dir): see the comment where history is written. Default false.
   */
  benignHistory?: boolean;
  /** Delay after the history is written before the first round of misuse. Default 5 s. */
  misuseAfterMs?: number;
  /** Delay from there to the burst of `usage_anomaly`. Default 5 s. */
  burstAfterMs?: number;
  /** Interval between rounds of misuse. Default 5 minutes. */
  misuseEveryMs?: number;
  /** How long spans wait in each exporter's batch. Default 500 ms. */
  exportDelayMs?: number;
  /** Where progress lines go. Default: nowhere. */
  say?: (line: string) => void;
}

/** A running demo fleet. */
export interface DemoFleet {
  /** Agents that only ever work within their grants: no alert may name them. */
  readonly benignAgents: readonly string[];
  /** The misuse episodes, one per detector. */
  readonly episodes: readonly Pick<Episode, 'detector' | 'agents' | 'summary'>[];
  /** Token ids the broker has issued to benign agents, and to the MCP desk's ordinary tasks, so far. */
  benignTokenIds(): string[];
  /** Resolves once the history has been written and exported. */
  readonly ready: Promise<void>;
  /** Stops every agent (open tasks are completed), exports what is left. */
  stop(): Promise<void>;
}

/**
 * Runs a small simulated organisation against a running monitor, over real OTLP/HTTP through
 * the SDK: a token broker issuing, refreshing, exchanging and revoking tokens; an orchestrator
 * starting and completing tasks; agents doing ordinary work within their grants (with a
 * back-dated history for the crawler, so that its usage baseline exists from the start); and, a few seconds after
 * start and then on a schedule, one episode of misuse for each detector of docs/conventions.md §2.
 */
export function startDemoFleet(options: DemoOptions): DemoFleet {
  if (!options.endpoint) throw new TypeError('the demo fleet needs the collector endpoint');
  const environment = options.environment ?? ENVIRONMENT;
  const historyMs = (options.historyMinutes ?? 20) * 60_000;
  const misuseAfterMs = options.misuseAfterMs ?? 5000;
  const burstAfterMs = options.burstAfterMs ?? 5000;
  const misuseEveryMs = options.misuseEveryMs ?? 5 * 60_000;
  const say = options.say ?? (() => undefined);
  const runId = randomBytes(2).toString('hex');

  type Provider = ReturnType<typeof createAgentTracerProvider>;
  const providers = new Map<string, Provider>();
  const provider = (serviceName: string, agentId?: string): Provider => {
    let p = providers.get(serviceName);
    if (!p) {
      p = createAgentTracerProvider({
        serviceName,
        ...(agentId ? { agentId } : {}),
        environment,
        endpoint: options.endpoint,
        ...(options.ingestKey ? { ingestKey: options.ingestKey } : {}),
        batch: { scheduledDelayMillis: options.exportDelayMs ?? 500, maxQueueSize: 50_000, maxExportBatchSize: 2000 },
      });
      providers.set(serviceName, p);
    }
    return p;
  };
  const broker = new DemoBroker(new TokenEvents(provider(BROKER_SERVICE).getTracer('@intentwatch/demo')), runId);
  const tasks = new TaskEvents(provider(ORCHESTRATOR_SERVICE).getTracer('@intentwatch/demo'));
  const agents = new Map<string, DemoAgent>();
  const agent = (agentId: string): DemoAgent => {
    let a = agents.get(agentId);
    if (!a) {
      a = new DemoAgent(agentId, provider(agentId, agentId).getTracer('@intentwatch/demo'));
      agents.set(agentId, a);
    }
    return a;
  };
  const deps = { broker, tasks, agent, runId, environment };
  const workers = [...BENIGN_ROLES, CRAWLER_ROLE].map((role) => new SteadyWorker(role, deps));
  const mcpDesk = new McpDesk({ ...deps, tracer: (s, a) => provider(s, a).getTracer('@intentwatch/demo'), say });
  const flushAll = () => Promise.all([...providers.values()].map((p) => p.forceFlush())).then(() => undefined);

  const abort = new AbortController();
  const clock = new RealClock(abort.signal);
  const t0 = Date.now();
  const past = options.benignHistory ? workers : workers.filter((w) => w.role === CRAWLER_ROLE);
  const ready = (async () => {
    // By default only the crawler gets a past. Benign agents start from now: a restart within
    // the window would otherwise write their history over minutes the last run already filled,
    // doubling those buckets — a usage anomaly the benign agents never had.
    await Promise.all(past.map((w) => w.run(new VirtualClock(t0 - historyMs, t0))));
    await flushAll();
  })();

  const running: Promise<unknown>[] = [];
  const live = ready.then(async () => {
    say(
      `  demo        ${historyMs / 60_000} minutes of history written for ${past.map((w) => w.role.agentId).join(', ')}; ${workers.length} agents at work`,
    );
    running.push(...workers.map((w) => w.run(clock)), mcpDesk.work(clock));
    let round = 0;
    if (!(await clock.sleep(misuseAfterMs))) return;
    while (!clock.done()) {
      round++;
      const ctx = { broker, tasks, agent, environment, tag: `${runId}-${round}` };
      const [burst, others] = [
        EPISODES.filter((e) => e.detector === 'usage_anomaly'),
        EPISODES.filter((e) => e.detector !== 'usage_anomaly'),
      ];
      say(`  demo        misuse round ${round}: ${others.map((e) => e.detector).join(', ')}; MCP: a tickets token on mcp-billing`);
      const episodes = [...others.map((e) => e.run(ctx, clock)), mcpDesk.misuse(ctx.tag, clock)];
      if (await clock.sleep(burstAfterMs)) {
        say(`  demo        misuse round ${round}: usage_anomaly (${burst[0]?.summary ?? 'burst'})`);
        episodes.push(...burst.map((e) => e.run(ctx, clock)));
      }
      await Promise.all(episodes);
      if (!(await clock.sleep(misuseEveryMs))) break;
    }
  });

  return {
    benignAgents: BENIGN_AGENTS,
    episodes: EPISODES.map(({ detector, agents, summary }) => ({ detector, agents, summary })),
    benignTokenIds: () => [...BENIGN_AGENTS.flatMap((a) => broker.issuedTo(a)), ...mcpDesk.ordinaryTokenIds()],
    ready,
    async stop() {
      abort.abort();
      await live.catch(() => undefined);
      await Promise.all(running);
      await mcpDesk.close();
      await Promise.all([...providers.values()].map((p) => p.shutdown()));
    },
  };
}
