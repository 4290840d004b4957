import http from 'node:http';
import https from 'node:https';
import { type EndpointGuard, EndpointRefusedError, portOf } from './endpoint-guard.js';

export interface PostResult {
  /** HTTP status; 0 when no response came (refused, timed out, connection failed). */
  status: number;
  latencyMs: number;
  /** Empty when the receiver answered 2xx. */
  error: string;
  /** The receiver's `Retry-After` header, verbatim. */
  retryAfter?: string;
  /** The guard refused the endpoint (before or at connection time). */
  refused: boolean;
}

/** Most of a response body read (to free the socket) and quoted in an error. */
const MAX_RESPONSE_BYTES = 64 * 1024;

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 32 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 32 }),
};

/**
 * POSTs `body` with `headers` to `url`, resolving the host through `guard.lookupFor` (the address
 * connected to is the address checked), never following redirects, and giving up after
 * `timeoutMs` in total. Never throws: every outcome is a {@link PostResult}.
 */
export async function postWebhook(
  url: URL,
  headers: Record<string, string>,
  body: string,
  options: { timeoutMs: number; guard: EndpointGuard },
): Promise<PostResult> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  const isHttps = url.protocol === 'https:';
  return new Promise<PostResult>((resolve) => {
    let settled = false;
    const done = (r: Omit<PostResult, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, latencyMs: latency() });
    };
    const req = (isHttps ? https : http).request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'intentwatch-responder' },
        agent: isHttps ? agents.https : agents.http,
        lookup: options.guard.lookupFor(portOf(url)) as unknown as http.RequestOptions['lookup'],
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          const retryAfter = res.headers['retry-after'];
          const ok = status >= 200 && status < 300;
          const text = ok ? '' : Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200);
          done({
            status,
            error: ok ? '' : `HTTP ${status}${text ? `: ${text}` : ''}`,
            refused: false,
            ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
          });
        });
        res.on('error', (e) => done({ status, error: `response failed: ${e.message}`, refused: false }));
      },
    );
    const timer = setTimeout(() => {
      done({ status: 0, error: `timed out after ${options.timeoutMs} ms`, refused: false });
      req.destroy();
    }, options.timeoutMs);
    req.on('error', (e) => {
      if (e instanceof EndpointRefusedError) done({ status: 0, error: e.message, refused: true });
      else done({ status: 0, error: `request failed: ${(e as NodeJS.ErrnoException).code ?? e.message}`, refused: false });
    });
    req.end(body);
  });
}
