import { randomBytes } from 'node:crypto';
import { type Running, start } from '@intentwatch/cli';
import { tempDataDir } from '../support/monitor.js';
import { otlpRequest, until } from './support.js';

export const KEYS = {
  viewer: 'viewer-key-hostile-tests-0123456789',
  analyst: 'analyst-key-hostile-tests-0123456789',
  admin: 'admin-key-hostile-tests-0123456789',
} as const;
export const INGEST_KEY = 'ingest-key-hostile-tests-0123456789';

export interface AllInOne {
  running: Running;
  collector: string;
  api: string;
  stop(): Promise<void>;
}

/** `intentwatch all` in this process (collector, detectors, responders, API), keys for each role, ingest key required. */
export async function startAll(env: NodeJS.ProcessEnv = {}): Promise<AllInOne> {
  const data = tempDataDir();
  const running = await start(
    { role: 'all', demo: false, help: false },
    {
      INTENTWATCH_DATA_DIR: data.dir,
      HOST: '127.0.0.1',
      OTLP_PORT: '0',
      API_PORT: '0',
      INTENTWATCH_API_KEYS: Object.entries(KEYS)
        .map(([role, key]) => `${role}:${key}`)
        .join(','),
      INTENTWATCH_INGEST_KEYS: INGEST_KEY,
      // Policies created through the API may then carry whsec_ secrets (stored encrypted under it).
      INTENTWATCH_SECRETS_KEY: randomBytes(32).toString('base64'),
      INTENTWATCH_BATCH_MS: '20',
      DETECT_INTERVAL_MS: '200',
      ...env,
    },
  );
  return {
    running,
    collector: `http://127.0.0.1:${running.otlpPort}`,
    api: `http://127.0.0.1:${running.apiPort}`,
    async stop() {
      await running.stop();
      data.remove();
    },
  };
}

/** Fetches `path` from the API with the key of `role` (none when null). */
export function apiFetch(m: AllInOne, path: string, role: keyof typeof KEYS | null, init: RequestInit = {}) {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
  if (role) headers.authorization = `Bearer ${KEYS[role]}`;
  if (init.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  return fetch(`${m.api}${path}`, { ...init, headers, signal: AbortSignal.timeout(15_000) });
}

export interface PlantedAlert {
  id: string;
  detector: string;
  count: number;
  tokenId: string;
  agentId: string;
  target: string;
  environment: string;
}

/**
 * Sends, for each token, a grant for github in `environment` and `uses` uses against slack: one
 * cross_service_reuse alert per token, with a count of `uses`.
 */
export async function sendMisuse(m: AllInOne, tokens: string[], options: { environment?: string; uses?: number } = {}): Promise<void> {
  const environment = options.environment ?? 'prod';
  const ingest = { authorization: `Bearer ${INGEST_KEY}`, 'content-type': 'application/json' };
  const now = Date.now();
  const grants = tokens.map((t) => ({
    'token.event': 'issued',
    'token.id': t,
    'task.id': `task-${t}`,
    'gen_ai.agent.id': `agent-${t}`,
    'token.audience': ['github'],
    'deployment.environment.name': environment,
    time: new Date(now - 30_000).toISOString(),
  }));
  const g = await fetch(`${m.collector}/v1/token-events`, { method: 'POST', headers: ingest, body: JSON.stringify(grants) });
  if (g.status !== 200) throw new Error(`token events: ${g.status} ${await g.text()}`);
  const uses = otlpRequest(
    { 'service.name': 'planted', 'deployment.environment.name': environment },
    tokens.flatMap((t) =>
      Array.from({ length: options.uses ?? 1 }, (_, i) => ({
        start: BigInt(now - 20_000 + i) * 1_000_000n,
        attributes: { 'token.id': t, 'gen_ai.agent.id': `agent-${t}`, 'task.id': `task-${t}`, 'server.address': 'slack' },
      })),
    ),
  );
  const u = await fetch(`${m.collector}/v1/traces`, { method: 'POST', headers: ingest, body: JSON.stringify(uses) });
  if (u.status !== 200) throw new Error(`uses: ${u.status} ${await u.text()}`);
}

/** The alerts of `tokens` once the API lists one for each (every alert of theirs, duplicates included). */
export async function waitForAlerts(m: AllInOne, tokens: string[], timeoutMs = 60_000): Promise<PlantedAlert[]> {
  let alerts: PlantedAlert[] = [];
  await until(
    `alerts for ${tokens.join(', ')} in the API`,
    async () => {
      const res = await apiFetch(m, '/v1/alerts?limit=500&suppressed=include', 'viewer');
      if (res.status !== 200) throw new Error(`GET /v1/alerts: ${res.status} ${await res.text()}`);
      alerts = ((await res.json()) as { alerts: PlantedAlert[] }).alerts.filter((a) => tokens.includes(a.tokenId));
      return tokens.every((t) => alerts.some((a) => a.tokenId === t));
    },
    timeoutMs,
    // Well inside the API's 600 requests a minute per key.
    250,
  );
  return alerts;
}

/** One cross_service_reuse alert per token (see {@link sendMisuse}), once the API lists them all. */
export async function plantAlerts(m: AllInOne, tokens: string[], environment = 'prod'): Promise<PlantedAlert[]> {
  await sendMisuse(m, tokens, { environment });
  return waitForAlerts(m, tokens);
}
