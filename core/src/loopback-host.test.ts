import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { HttpError } from './errors.js';
import { hostOfHeader, isLoopbackHost, loopbackHostGuard } from './loopback-host.js';

describe('isLoopbackHost', () => {
  it('knows the loopback addresses and names, in any case and with a final dot', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST.', 'app.localhost']) {
      expect(isLoopbackHost(h), h).toBe(true);
    }
  });

  it('refuses every other name and address', () => {
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'fe80::1', 'example.com', 'localhost.example.com', '127.0.0.1.nip.io', 'mylocalhost']) {
      expect(isLoopbackHost(h), h).toBe(false);
    }
  });
});

describe('hostOfHeader', () => {
  it('drops the port of a Host header', () => {
    expect(hostOfHeader('[::1]:4318')).toBe('::1');
    expect(hostOfHeader('localhost:4318')).toBe('localhost');
    expect(hostOfHeader('127.0.0.1')).toBe('127.0.0.1');
    expect(hostOfHeader('::1')).toBe('::1');
  });
});

describe('loopbackHostGuard', () => {
  const outcome = (guard: ReturnType<typeof loopbackHostGuard>, host: string | undefined) => {
    let result: unknown = 'not called';
    guard({ headers: host === undefined ? {} : { host } } as IncomingMessage, undefined, (e) => {
      result = e === undefined ? 'passed' : (e as HttpError).status;
    });
    return result;
  };

  it('answers loopback hosts and the allowed names on a loopback-bound port, 421 for any other', () => {
    const guard = loopbackHostGuard(() => '127.0.0.1', ['monitor.corp.example']);
    expect(outcome(guard, 'localhost:8080')).toBe('passed');
    expect(outcome(guard, 'Monitor.Corp.Example.')).toBe('passed');
    expect(outcome(guard, 'monitor.corp.example:443')).toBe('passed');
    expect(outcome(guard, 'attacker.example')).toBe(421);
    expect(outcome(guard, undefined)).toBe('passed');
  });

  it('checks nothing on a port bound to another address', () => {
    expect(
      outcome(
        loopbackHostGuard(() => '0.0.0.0'),
        'attacker.example',
      ),
    ).toBe('passed');
  });
});
