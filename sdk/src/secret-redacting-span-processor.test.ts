import { SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SecretRedactingSpanProcessor, tokenFingerprint } from './index.js';

const exporter = new InMemorySpanExporter();
const redactor = new SecretRedactingSpanProcessor({ next: new SimpleSpanProcessor(exporter) });
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'agent', 'deploy.key': 'AKIAIOSFODNN7EXAMPLE' }),
  spanProcessors: [redactor],
});
const tracer = provider.getTracer('test');

afterAll(async () => {
  await provider.shutdown();
});

const GITHUB = `ghp_${'x9Y8'.repeat(9)}`;
const OPENAI = `sk-proj-${'Qw3'.repeat(10)}`;

describe('SecretRedactingSpanProcessor', () => {
  it('replaces a secret placed in any attribute by its fingerprint before the exporter sees it', () => {
    fc.assert(
      fc.property(
        // `__proto__` is no attribute at all: the OpenTelemetry SDK's plain-object store drops it.
        fc.string({ minLength: 1, maxLength: 30 }).filter((k) => k !== 'service.name' && k !== '__proto__'),
        fc.constantFrom(GITHUB, OPENAI, `Bearer ${'a1b2c3'.repeat(4)}`, 'AKIAIOSFODNN7EXAMPLE'),
        fc.boolean(),
        (key, secret, asArray) => {
          exporter.reset();
          tracer.startSpan('work', { attributes: { [key]: asArray ? ['ok', secret] : secret } }).end();
          const [span] = exporter.getFinishedSpans();
          const value = span?.attributes[key];
          expect(asArray ? (value as string[])[1] : value).toBe(tokenFingerprint(secret));
          expect(JSON.stringify(span?.attributes)).not.toContain(secret.replace(/^Bearer /, ''));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('redacts event and link attributes, the span name, the status message and the resource', () => {
    exporter.reset();
    const before = redactor.redacted;
    const link = tracer.startSpan('linked');
    link.end();
    const span = tracer.startSpan(`call with ${GITHUB}`, {
      links: [{ context: link.spanContext(), attributes: { why: OPENAI } }],
    });
    span.addEvent('exception', { 'exception.message': `401 for Authorization: Bearer ${'f00d'.repeat(5)}` });
    span.setStatus({ code: SpanStatusCode.ERROR, message: `rejected ${OPENAI}` });
    span.end();
    const out = exporter.getFinishedSpans().find((s) => s.name.startsWith('call'));
    expect(out?.name).toBe(`call with ${tokenFingerprint(GITHUB)}`);
    expect(out?.links[0]?.attributes?.why).toBe(tokenFingerprint(OPENAI));
    expect(out?.events[0]?.attributes?.['exception.message']).toBe(`401 for Authorization: Bearer ${tokenFingerprint('f00d'.repeat(5))}`);
    expect(out?.status.message).toBe(`rejected ${tokenFingerprint(OPENAI)}`);
    expect(out?.resource.attributes['deploy.key']).toBe(tokenFingerprint('AKIAIOSFODNN7EXAMPLE'));
    expect(out?.resource.attributes['service.name']).toBe('agent');
    expect(JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toMatch(/ghp_|sk-proj-|f00df00d|AKIA/);
    // Name, link, event and status; the resource's key was counted once, with the first span.
    expect(redactor.redacted - before).toBe(4);
  });

  it('redacts attribute names, values named for a credential and the instrumentation scope', () => {
    exporter.reset();
    tracer.startSpan('named', { attributes: { [`cache.${GITHUB}`]: 'hit', 'http.request.header.x-api-key': 'opaque-key-1' } }).end();
    provider.getTracer(`lib ${OPENAI}`, `1.0 ${GITHUB}`).startSpan('scoped').end();
    const [named, scoped] = exporter.getFinishedSpans();
    expect(named?.attributes).toEqual({
      [`cache.${tokenFingerprint(GITHUB)}`]: 'hit',
      'http.request.header.x-api-key': tokenFingerprint('opaque-key-1'),
    });
    expect(scoped?.instrumentationScope).toMatchObject({
      name: `lib ${tokenFingerprint(OPENAI)}`,
      version: `1.0 ${tokenFingerprint(GITHUB)}`,
    });
  });

  it('leaves spans without secrets exactly as they were', () => {
    exporter.reset();
    tracer.startSpan('GET /repos/{owner}/{repo}', { attributes: { 'url.full': 'https://api.github.com/repos/acme/widgets', n: 3 } }).end();
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('GET /repos/{owner}/{repo}');
    expect(span?.attributes).toEqual({ 'url.full': 'https://api.github.com/repos/acme/widgets', n: 3 });
  });
});
