import { type Server, createServer } from 'node:http';
import { type HttpError, createLogger, loopbackHostGuard, registry } from '@intentwatch/core';

export interface HealthServerOptions {
  /** Resolves true when the role can do its work (e.g. the store answers); `GET /readyz` says so. */
  readiness: () => Promise<boolean>;
  /** Host names answered besides the loopback's when bound to a loopback address (`INTENTWATCH_ALLOWED_HOSTS`). */
  allowedHosts?: readonly string[];
}

/**
 * Health and metrics for a role that serves no HTTP of its own (the `detectors` role):
 * `GET /healthz` (the process is up and its event loop answers), `GET /readyz` (200 when
 * `readiness` holds, else 503) and `GET /metrics` (the Prometheus registry). This is what
 * Kubernetes probes and Prometheus scrapes; nothing here needs a key.
 */
export class HealthServer {
  readonly #options: HealthServerOptions;
  readonly #log = createLogger('cli.health');
  #server: Server | undefined;

  constructor(options: HealthServerOptions) {
    this.#options = options;
  }

  /** Listens on `host:port`; resolves with the bound port (useful with port 0). */
  listen(port: number, host: string): Promise<number> {
    // Bound to the loopback, only requests for a loopback host are answered (DNS rebinding).
    const hostGuard = loopbackHostGuard(() => host, this.#options.allowedHosts);
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const send = (status: number, type: string, body: string) => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(body);
      };
      let misdirected: HttpError | undefined;
      hostGuard(req, res, (e) => {
        misdirected = e as HttpError | undefined;
      });
      if (misdirected) {
        send(misdirected.status, 'application/json', JSON.stringify({ error: { code: misdirected.code, message: misdirected.message } }));
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(405, 'application/json', JSON.stringify({ error: { code: 'method_not_allowed', message: 'only GET is served here' } }));
        return;
      }
      if (path === '/healthz') {
        send(200, 'application/json', JSON.stringify({ status: 'ok' }));
      } else if (path === '/readyz') {
        this.#options
          .readiness()
          .catch(() => false)
          .then((ready) => send(ready ? 200 : 503, 'application/json', JSON.stringify({ status: ready ? 'ready' : 'not_ready' })));
      } else if (path === '/metrics') {
        registry
          .metrics()
          .then((text) => send(200, registry.contentType, text))
          .catch((e: unknown) => {
            this.#log.warn({ err: String(e) }, 'metrics could not be collected');
            send(500, 'application/json', JSON.stringify({ error: { code: 'internal', message: 'metrics could not be collected' } }));
          });
      } else {
        send(
          404,
          'application/json',
          JSON.stringify({
            error: { code: 'not_found', message: `no route for ${req.method} ${path}; this port serves /healthz, /readyz, /metrics` },
          }),
        );
      }
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }
}
