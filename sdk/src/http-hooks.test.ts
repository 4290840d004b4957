import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { httpInstrumentationConfig, tokenFingerprint, tokenIdFromHeader, undiciHeader, undiciInstrumentationConfig } from './index.js';

describe('undiciHeader', () => {
  it('reads a header from the array form of undici 6 and later, case-insensitively', () => {
    const request = { headers: ['Accept', 'application/json', 'Authorization', ['Bearer first', 'Bearer second']] };
    expect(undiciHeader(request, 'authorization')).toBe('Bearer first');
    expect(undiciHeader(request, 'x-api-key')).toBeUndefined();
  });

  it('reads a header from the string form of undici 5', () => {
    const request = { headers: 'accept: */*\r\nauthorization:  Bearer abc123 \r\n' };
    expect(undiciHeader(request, 'Authorization')).toBe('Bearer abc123');
  });
});

describe('tokenIdFromHeader', () => {
  it('fingerprints the first value and ignores empty ones', () => {
    expect(tokenIdFromHeader(['Bearer abc', 'Bearer def'])).toBe(tokenFingerprint('abc'));
    expect(tokenIdFromHeader('  ')).toBeUndefined();
    expect(tokenIdFromHeader(undefined)).toBeUndefined();
  });
});

describe('instrumentation configs', () => {
  it('drop credential headers from the headers recorded on spans and keep the others', () => {
    const http = httpInstrumentationConfig({
      headersToSpanAttributes: {
        client: { requestHeaders: ['Authorization', 'user-agent', 'X-Api-Key'], responseHeaders: ['set-cookie', 'content-type'] },
        server: { requestHeaders: ['cookie', 'x-request-id'] },
      },
    });
    expect(http.headersToSpanAttributes).toEqual({
      client: { requestHeaders: ['user-agent'], responseHeaders: ['content-type'] },
      server: { requestHeaders: ['x-request-id'], responseHeaders: [] },
    });
    const undici = undiciInstrumentationConfig({
      tokenHeaders: ['x-vendor-token'],
      headersToSpanAttributes: { requestHeaders: ['x-vendor-token', 'proxy-authorization', 'accept'] },
    });
    expect(undici.headersToSpanAttributes).toEqual({ requestHeaders: ['accept'], responseHeaders: [] });
  });

  it('set token.id from the configured header and still run the hooks given', () => {
    const seen: string[] = [];
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const span = provider.getTracer('test').startSpan('GET');
    const config = undiciInstrumentationConfig({ tokenHeaders: ['x-api-key'], requestHook: () => seen.push('mine') });
    config.requestHook?.(span, { headers: ['authorization', 'Bearer ignored-here-123', 'x-api-key', 'key-0123456789abcdef'] } as never);
    span.end();
    expect(exporter.getFinishedSpans()[0]?.attributes['token.id']).toBe(tokenFingerprint('key-0123456789abcdef'));
    expect(seen).toEqual(['mine']);
  });
});
