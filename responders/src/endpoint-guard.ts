import { type LookupAddress, type LookupOneOptions, lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { ConfigError, IntentwatchError } from '@intentwatch/core';
import ipaddr from 'ipaddr.js';

/** A webhook endpoint that the allow-list does not let us reach. */
export class EndpointRefusedError extends IntentwatchError {
  constructor(message: string) {
    super('endpoint_refused', message);
  }
}

/**
 * Addresses no webhook may reach unless allow-listed: loopback, private, link-local (cloud
 * metadata lives at 169.254.169.254), shared, documentation, benchmarking, multicast, reserved,
 * and their IPv6 counterparts (unique-local, link-local, NAT64 that may embed a private IPv4,
 * IPv4-compatible). Other IPv6 addresses that carry an IPv4 address are checked as that address
 * too ({@link embeddedIpv4}).
 */
const SPECIAL: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['192.88.99.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  // IPv4-compatible addresses (deprecated), with :: and ::1 among them
  ['::', 96, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['64:ff9b:1::', 48, 'ipv6'],
  ['100::', 64, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['fec0::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

const special = new BlockList();
for (const [net, prefix, type] of SPECIAL) special.addSubnet(net, prefix, type);

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * The IPv4 addresses an IPv6 address carries, by which a webhook could reach an IPv4 host
 * through a translator or tunnel: IPv4-compatible (`::a.b.c.d`, RFC 4291, deprecated), IPv4-mapped
 * (`::ffff:a.b.c.d`) and IPv4-translated (`::ffff:0:a.b.c.d`, RFC 6145), 6to4 (`2002:AABB:CCDD::`,
 * RFC 3056) and Teredo (`2001:0::/32`, RFC 4380: the server's address, and the client's
 * inverted in the last 32 bits). NAT64 prefixes (RFC 6052) are refused whole, in {@link SPECIAL}.
 */
export function embeddedIpv4(address: string): string[] {
  let b: number[];
  try {
    b = ipaddr.IPv6.parse(address).toByteArray();
  } catch {
    return [];
  }
  const v4 = (at: number, invert = 0) => [0, 1, 2, 3].map((i) => ((b[at + i] as number) ^ invert) & 0xff).join('.');
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const found: string[] = [];
  if (zeros(0, 10) && ((b[10] === 0 && b[11] === 0) || (b[10] === 0xff && b[11] === 0xff))) found.push(v4(12));
  if (zeros(0, 8) && b[8] === 0xff && b[9] === 0xff && b[10] === 0 && b[11] === 0) found.push(v4(12));
  if (b[0] === 0x20 && b[1] === 0x02) found.push(v4(2));
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) found.push(v4(4), v4(12, 0xff));
  return found;
}

/** True when `address` is special itself or carries a special IPv4 address ({@link embeddedIpv4}). */
function isSpecial(address: string): boolean {
  const v = isIP(address);
  if (v === 4) return special.check(address, 'ipv4');
  if (v !== 6) return true;
  return special.check(address, 'ipv6') || embeddedIpv4(address).some((a) => special.check(a, 'ipv4'));
}

/** One `INTENTWATCH_WEBHOOK_ALLOW` entry: a host, a `*.suffix` or a network, on one port or any. */
type AllowRule =
  | { kind: 'host'; host: string; port?: number }
  | { kind: 'suffix'; suffix: string; port?: number }
  | { kind: 'net'; net: BlockList; port?: number };

const HOST_NAME = /^[a-z0-9.-]+$/;

/**
 * Parses one allow-list entry: `host`, `*.suffix`, an address, a CIDR, each optionally with a
 * port — `broker.internal:8443`, `*.corp.example:443`, `10.0.0.7:9000`, `10.1.0.0/16:8443`,
 * `[::1]:9000`, `[fd00::/8]:443` (an IPv6 address or network takes a port only in brackets).
 */
function parseAllowEntry(raw: string): AllowRule {
  const bad = () => new ConfigError(`INTENTWATCH_WEBHOOK_ALLOW: expected a host, address or CIDR, optionally with :port, got "${raw}"`);
  let entry = raw.trim().toLowerCase();
  let port: number | undefined;
  const portOf = (text: string) => {
    if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw bad();
    return Number(text);
  };
  if (entry.startsWith('[')) {
    const end = entry.indexOf(']');
    if (end < 0) throw bad();
    const rest = entry.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) throw bad();
    if (rest) port = portOf(rest.slice(1));
    entry = entry.slice(1, end);
    if (isIP(entry.split('/')[0] ?? '') !== 6) throw bad();
  } else if (isIP(entry.split('/')[0] ?? '') !== 6) {
    // Not a bare IPv6 address or network: a last ":digits" is the port.
    const colon = entry.lastIndexOf(':');
    if (colon >= 0) {
      port = portOf(entry.slice(colon + 1));
      entry = entry.slice(0, colon);
    }
  }
  const slash = entry.indexOf('/');
  const net = new BlockList();
  if (slash > 0) {
    const address = entry.slice(0, slash);
    const prefixText = entry.slice(slash + 1);
    const v = isIP(address);
    const prefix = Number(prefixText);
    if (!v || !/^\d{1,3}$/.test(prefixText) || prefix > (v === 4 ? 32 : 128)) throw bad();
    net.addSubnet(address, prefix, v === 4 ? 'ipv4' : 'ipv6');
    return { kind: 'net', net, ...(port ? { port } : {}) };
  }
  const v = isIP(entry);
  if (v) {
    net.addAddress(entry, v === 4 ? 'ipv4' : 'ipv6');
    return { kind: 'net', net, ...(port ? { port } : {}) };
  }
  if (entry.startsWith('*.') && HOST_NAME.test(entry.slice(2)))
    return { kind: 'suffix', suffix: entry.slice(1), ...(port ? { port } : {}) };
  if (HOST_NAME.test(entry)) return { kind: 'host', host: entry, ...(port ? { port } : {}) };
  throw bad();
}

/** The port a URL connects to: its own, or its scheme's. */
export function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
}

/**
 * Decides which webhook endpoints may be reached. Outside the allow-list an endpoint must be
 * `https` and every address its host resolves to must be public — an IPv6 address that carries a
 * private or loopback IPv4 address (IPv4-compatible or -mapped, 6to4, Teredo, NAT64) is not;
 * allow-listed hosts (by name, `*.suffix`, address or CIDR, on any port or the one the entry
 * names) may also be plain `http` and private or loopback.
 *
 * The address check runs twice: when a policy is saved ({@link check}) and again on every
 * connection through {@link lookupFor}, so that a name re-pointed at an internal address after
 * the policy was accepted (DNS rebinding) is still refused.
 */
export class EndpointGuard {
  readonly #rules: AllowRule[] = [];

  /** `allow`: entries as `INTENTWATCH_WEBHOOK_ALLOW` takes them. Throws ConfigError for a malformed entry. */
  constructor(allow: readonly string[] = []) {
    for (const raw of allow) {
      if (raw.trim()) this.#rules.push(parseAllowEntry(raw));
    }
  }

  /**
   * Checks the form of an endpoint URL without resolving it: http(s) only, no credentials in
   * it, https unless the host is allow-listed, and — for a host written as an address — the
   * address rule. Returns the parsed URL; throws EndpointRefusedError.
   */
  checkUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new EndpointRefusedError(`endpoint URL is not a URL: "${raw}"`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new EndpointRefusedError(`endpoint URL must be https (got ${url.protocol})`);
    }
    if (url.username || url.password) {
      throw new EndpointRefusedError('endpoint URL must not carry credentials; the signature authenticates the request');
    }
    const host = unbracket(url.hostname);
    const port = portOf(url);
    if (url.protocol === 'http:' && !this.#hostAllowed(host, port)) {
      throw new EndpointRefusedError(
        `endpoint ${url.host} must use https; plain http is allowed only for hosts (and ports) in INTENTWATCH_WEBHOOK_ALLOW`,
      );
    }
    if (isIP(host)) this.#checkAddress(host, host, port);
    return url;
  }

  /** {@link checkUrl}, then resolves the host and checks every address. Throws EndpointRefusedError. */
  async check(raw: string): Promise<URL> {
    const url = this.checkUrl(raw);
    const host = unbracket(url.hostname);
    if (isIP(host)) return url;
    const addresses = await new Promise<LookupAddress[]>((resolve, reject) => {
      dnsLookup(host, { all: true }, (err, list) => (err ? reject(err) : resolve(list)));
    }).catch((e: NodeJS.ErrnoException) => {
      throw new EndpointRefusedError(`endpoint host ${host} does not resolve (${e.code ?? e.message})`);
    });
    for (const a of addresses) this.#checkAddress(host, a.address, portOf(url));
    return url;
  }

  /**
   * A `lookup` for `http.request` to `port`: resolves like `dns.lookup` and fails the connection
   * when any address of the host is not allowed, so that the address connected to is the address
   * checked.
   */
  lookupFor(port: number) {
    return (hostname: string, options: LookupOneOptions | { all?: boolean }, callback: LookupCallback): void => {
      dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) {
          callback(err, '');
          return;
        }
        try {
          for (const a of addresses) this.#checkAddress(hostname, a.address, port);
        } catch (e) {
          callback(e as NodeJS.ErrnoException, '');
          return;
        }
        if ((options as { all?: boolean }).all) callback(null, addresses);
        else {
          const first = addresses[0] as LookupAddress;
          callback(null, first.address, first.family);
        }
      });
    };
  }

  /** True when `address` may be reached for `host` on `port` (any port when omitted): public, or allow-listed by host or network. */
  addressAllowed(host: string, address: string, port?: number): boolean {
    if (!isSpecial(address)) return true;
    return this.#hostAllowed(host, port) || this.#addressListed(address, port);
  }

  #checkAddress(host: string, address: string, port: number): void {
    if (!this.addressAllowed(host, address, port)) {
      throw new EndpointRefusedError(
        `endpoint host ${host} resolves to ${address}, a private, loopback, link-local or reserved address (or one carrying such an IPv4 address); allow it in INTENTWATCH_WEBHOOK_ALLOW if it is meant`,
      );
    }
  }

  #addressListed(address: string, port: number | undefined): boolean {
    const v = isIP(address);
    if (!v) return false;
    const type = v === 4 ? 'ipv4' : 'ipv6';
    return this.#rules.some((r) => r.kind === 'net' && portMatches(r.port, port) && r.net.check(address, type));
  }

  #hostAllowed(host: string, port: number | undefined): boolean {
    const h = host.toLowerCase().replace(/\.$/, '');
    if (isIP(h)) return this.#addressListed(h, port);
    return this.#rules.some(
      (r) => portMatches(r.port, port) && ((r.kind === 'host' && r.host === h) || (r.kind === 'suffix' && h.endsWith(r.suffix))),
    );
  }
}

/** An entry without a port allows every port; one with a port, that port only (and never an unknown one). */
function portMatches(rulePort: number | undefined, port: number | undefined): boolean {
  return rulePort === undefined || rulePort === port;
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
