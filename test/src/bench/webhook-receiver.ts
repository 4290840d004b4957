import { randomBytes } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

/**
 * The broker end of the revoke webhooks during the benchmark: a real HTTP server that verifies
 * each delivery with the `standardwebhooks` package and notes when it arrived, so that the
 * latency from an offending span to a verified revoke request can be measured.
 */

export interface Delivery {
  receivedAt: number;
  verified: boolean;
  detector: string;
  /** The alert's token, its session root and every token the revoke names. */
  tokens: string[];
}

export class WebhookReceiver {
  readonly secret = `whsec_${randomBytes(24).toString('base64')}`;
  readonly deliveries: Delivery[] = [];
  readonly #server: Server;
  readonly #verifier: Webhook;
  url = '';

  constructor() {
    this.#verifier = new Webhook(this.secret);
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const receivedAt = Date.now();
        const body = Buffer.concat(chunks).toString('utf8');
        const header = (name: string) => String(req.headers[name] ?? '');
        let verified = false;
        let parsed: { data?: { alert?: { detector?: string; tokenId?: string; rootTokenId?: string }; revoke?: { tokens?: string[] } } } =
          {};
        try {
          parsed = this.#verifier.verify(body, {
            'webhook-id': header('webhook-id'),
            'webhook-timestamp': header('webhook-timestamp'),
            'webhook-signature': header('webhook-signature'),
          }) as typeof parsed;
          verified = true;
        } catch {
          // An unverifiable delivery is recorded as such and refused, as a broker would.
        }
        const alert = parsed.data?.alert;
        this.deliveries.push({
          receivedAt,
          verified,
          detector: alert?.detector ?? '',
          tokens: [alert?.tokenId ?? '', alert?.rootTokenId ?? '', ...(parsed.data?.revoke?.tokens ?? [])].filter(Boolean),
        });
        res.statusCode = verified ? 200 : 401;
        res.end();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const addr = this.#server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/revoke`;
    return this.url;
  }

  /** The first verified delivery for `detector` naming any of `tokens`. */
  find(detector: string, tokens: readonly string[]): Delivery | undefined {
    return this.deliveries.find((d) => d.verified && d.detector === detector && d.tokens.some((t) => tokens.includes(t)));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
