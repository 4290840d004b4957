import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { HttpError } from './errors.js';

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** `localhost` and names under `.localhost` (RFC 6761), which resolvers and browsers keep on the loopback. */
function isLoopbackName(name: string): boolean {
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * True when `host` — a listen address or a name — can only be reached from this machine:
 * 127.0.0.0/8, `::1` (also as `::ffff:127.x.x.x`), `localhost`, `*.localhost`.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/\.$/, '');
  const address = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
  const v = isIP(address);
  if (v) return loopback.check(address, v === 4 ? 'ipv4' : 'ipv6');
  return isLoopbackName(address);
}

/** The host of a `Host` header without its port: `[::1]:4318` → `::1`, `localhost:4318` → `localhost`. */
export function hostOfHeader(header: string): string {
  if (header.startsWith('[')) {
    const end = header.indexOf(']');
    return end > 0 ? header.slice(1, end) : header;
  }
  const colon = header.indexOf(':');
  // One colon: name or IPv4 with a port; more: an unbracketed IPv6 address, which has none.
  return colon >= 0 && header.indexOf(':', colon + 1) < 0 ? header.slice(0, colon) : header;
}

/**
 * A middleware for a server bound to a loopback address: a request whose `Host` names anything
 * but the loopback (a name a web page re-pointed at 127.0.0.1 — DNS rebinding) gets 421, so a
 * browser visiting a hostile site cannot read from or send to a port that is open on this
 * machine only. `boundHost()` is the address the server listens on; nothing is checked when it
 * is not a loopback address (the port is meant to be reached from elsewhere). `allowedHosts`
 * (INTENTWATCH_ALLOWED_HOSTS) are further names answered, such as the public name a reverse proxy
 * on the same machine forwards. A request without `Host` (HTTP/1.0) is not from a browser and passes.
 */
export function loopbackHostGuard(boundHost: () => string | undefined, allowedHosts: readonly string[] = []) {
  const allowed = new Set(allowedHosts.map((h) => h.toLowerCase().replace(/^\[|\]$/g, '')));
  const hostAllowed = (header: string) => {
    const host = hostOfHeader(header).toLowerCase().replace(/\.$/, '');
    return isLoopbackHost(host) || allowed.has(host);
  };
  return (req: IncomingMessage, _res: unknown, next: (err?: unknown) => void): void => {
    const bound = boundHost();
    const header = req.headers.host;
    if (bound === undefined || !isLoopbackHost(bound) || header === undefined || hostAllowed(header)) {
      next();
      return;
    }
    next(
      new HttpError(
        421,
        'misdirected_request',
        `this server listens on the loopback address ${bound} and answers only requests for a loopback host (127.0.0.1, [::1], localhost) or one named in INTENTWATCH_ALLOWED_HOSTS; got Host: ${JSON.stringify(header.slice(0, 100))}`,
      ),
    );
  };
}
