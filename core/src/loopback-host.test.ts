import { describe, expect, it } from 'vitest';
import { hostOfHeader, isLoopbackHost } from './loopback-host.js';

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
