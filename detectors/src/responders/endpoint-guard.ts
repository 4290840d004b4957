import { type LookupAddress, type LookupOneOptions, lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { ConfigError, IntentwatchError } from '@intentwatch/core';

/** A webhook endpoint that the allow-list does not let us reach. */
export class EndpointRefusedError extends IntentwatchError {
  constructor(message: string) {
    super('endpoint_refused', message);
  }
}

/**
 * Addresses no webhook may reach unless allow-listed: loopback, private, link-local (cloud
 * metadata lives at 169.254.169.254), shared, documentation, benchmarking, multicast, reserved,
 * and their IPv6 counterparts (unique-local, link-local, NAT64 that may embed a private IPv4).
 * IPv4-mapped IPv6 addresses are checked as the IPv4 address they carry.
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
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
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
 * Decides which webhook endpoints may be reached. Outside the allow-list an endpoint must be
 * `https` and every address its host resolves to must be public; allow-listed hosts (by name,
 * `*.suffix`, address or CIDR) may also be plain `http` and private or loopback.
 *
 * The address check runs twice: when a policy is saved ({@link check}) and again on every
 * connection through {@link lookup}, so that a name re-pointed at an internal address after the
 * policy was accepted (DNS rebinding) is still refused.
 */
export class EndpointGuard {
  readonly #hosts = new Set<string>();
  readonly #suffixes: string[] = [];
  readonly #nets = new BlockList();

  /** `allow`: entries as `INTENTWATCH_WEBHOOK_ALLOW` takes them. Throws ConfigError for a malformed entry. */
  constructor(allow: readonly string[] = []) {
    for (const raw of allow) {
      const entry = raw.trim().toLowerCase();
      if (!entry) continue;
      const slash = entry.indexOf('/');
      if (slash > 0) {
        const net = entry.slice(0, slash);
        const prefix = Number(entry.slice(slash + 1));
        const v = isIP(net);
        if (!v || !Number.isInteger(prefix) || prefix < 0 || prefix > (v === 4 ? 32 : 128)) {
          throw new ConfigError(`INTENTWATCH_WEBHOOK_ALLOW: expected a host, address or CIDR, got "${raw}"`);
        }
        this.#nets.addSubnet(net, prefix, v === 4 ? 'ipv4' : 'ipv6');
      } else if (isIP(unbracket(entry))) {
        const address = unbracket(entry);
        this.#nets.addAddress(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
      } else if (entry.startsWith('*.') && /^[a-z0-9.-]+$/.test(entry.slice(2))) {
        this.#suffixes.push(entry.slice(1));
      } else if (/^[a-z0-9.-]+$/.test(entry)) {
        this.#hosts.add(entry);
      } else {
        throw new ConfigError(`INTENTWATCH_WEBHOOK_ALLOW: expected a host, address or CIDR, got "${raw}"`);
      }
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
    if (url.protocol === 'http:' && !this.#hostAllowed(host)) {
      throw new EndpointRefusedError(
        `endpoint ${url.host} must use https; plain http is allowed only for hosts in INTENTWATCH_WEBHOOK_ALLOW`,
      );
    }
    if (isIP(host)) this.#checkAddress(host, host);
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
    for (const a of addresses) this.#checkAddress(host, a.address);
    return url;
  }

  /**
   * A `lookup` for `http.request`: resolves like `dns.lookup` and fails the connection when any
   * address of the host is not allowed, so that the address connected to is the address checked.
   */
  readonly lookup = (hostname: string, options: LookupOneOptions | { all?: boolean }, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) {
        callback(err, '');
        return;
      }
      try {
        for (const a of addresses) this.#checkAddress(hostname, a.address);
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

  /** True when `address` may be reached for `host`: public, or allow-listed by host or network. */
  addressAllowed(host: string, address: string): boolean {
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (!special.check(address, type)) return true;
    return this.#hostAllowed(host) || this.#nets.check(address, type);
  }

  #checkAddress(host: string, address: string): void {
    if (!this.addressAllowed(host, address)) {
      throw new EndpointRefusedError(
        `endpoint host ${host} resolves to ${address}, a private, loopback, link-local or reserved address; allow it in INTENTWATCH_WEBHOOK_ALLOW if it is meant`,
      );
    }
  }

  #hostAllowed(host: string): boolean {
    const h = host.toLowerCase().replace(/\.$/, '');
    if (this.#hosts.has(h) || this.#suffixes.some((s) => h.endsWith(s))) return true;
    const v = isIP(h);
    return v !== 0 && this.#nets.check(h, v === 4 ? 'ipv4' : 'ipv6');
  }
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
