import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface ReceivedRequest {
  webhookId: string;
  timestamp: string;
  signature: string;
  body: string;
  /** The `standardwebhooks` package accepted the signature with the receiver's secret. */
  verified: boolean;
  verifyError: string;
  /** Status the receiver answered. */
  status: number;
  receivedAt: number;
}

/** What to answer to the n-th request (from 1), given its webhook-id and body: a status and headers. */
export type Script = (n: number, webhookId: string, body: string) => { status: number; headers?: Record<string, string> };

/**
 * A broker's webhook endpoint for tests: a real HTTP server that verifies every request with
 * the `standardwebhooks` package (an implementation we did not write) and, like a careful
 * broker, acts at most once per `webhook-id` — `revoked` holds the effective revokes.
 */
export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** webhook-id → body, for each verified request answered 2xx the first time its id was seen. */
  readonly revoked = new Map<string, string>();
  readonly #server: Server;
  readonly #verifier: Webhook;
  #script: Script;
  url = '';

  private constructor(secret: string, script: Script) {
    this.#verifier = new Webhook(secret);
    this.#script = script;
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const h = req.headers;
        const webhookId = header(h, 'webhook-id');
        let verified = false;
        let verifyError = '';
        try {
          this.#verifier.verify(body, {
            'webhook-id': webhookId,
            'webhook-timestamp': header(h, 'webhook-timestamp'),
            'webhook-signature': header(h, 'webhook-signature'),
          });
          verified = true;
        } catch (e) {
          verifyError = e instanceof Error ? e.message : String(e);
        }
        const answer = verified ? this.#script(this.requests.length + 1, webhookId, body) : { status: 401 };
        this.requests.push({
          webhookId,
          timestamp: header(h, 'webhook-timestamp'),
          signature: header(h, 'webhook-signature'),
          body,
          verified,
          verifyError,
          status: answer.status,
          receivedAt: Date.now(),
        });
        if (verified && answer.status >= 200 && answer.status < 300 && !this.revoked.has(webhookId)) this.revoked.set(webhookId, body);
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(answer.status >= 300 ? '{"error":"scripted failure"}' : '{"ok":true}');
      });
    });
  }

  /** Starts on 127.0.0.1, a random port; answers 204 unless `script` says otherwise. */
  static async start(secret: string, script: Script = () => ({ status: 204 })): Promise<WebhookReceiver> {
    const r = new WebhookReceiver(secret, script);
    await new Promise<void>((resolve) => r.#server.listen(0, '127.0.0.1', resolve));
    const addr = r.#server.address();
    r.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hooks/revoke`;
    return r;
  }

  /** Changes the answers from now on. */
  answer(script: Script): void {
    this.#script = script;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

function header(h: IncomingHttpHeaders, name: string): string {
  const v = h[name];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}
