import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeResource, percentDecode } from './resource.js';

const norm = (raw: string) => normalizeResource(raw).resource;

describe('normalizeResource', () => {
  it('resolves dot segments, so a path cannot climb out of its prefix unseen', () => {
    expect(normalizeResource('buckets/logs/../secrets/key')).toEqual({ resource: 'buckets/secrets/key', climbed: true });
    expect(normalizeResource('buckets/logs/a/./b')).toEqual({ resource: 'buckets/logs/a/b', climbed: false });
    expect(norm('/a/b/../../../etc/passwd')).toBe('/etc/passwd');
    expect(norm('a/b/..')).toBe('a/');
    expect(norm('a/b/.')).toBe('a/b/');
    expect(norm('..')).toBe('/');
  });

  it('decodes percent-escapes once, before resolving, so an encoded slash separates segments', () => {
    expect(normalizeResource('buckets/logs/x%2F..%2F..%2Fsecrets%2Fkey')).toEqual({ resource: 'buckets/secrets/key', climbed: true });
    expect(norm('buckets/logs/%2e%2E/secrets')).toBe('buckets/secrets');
    expect(norm('reports/caf%C3%A9')).toBe('reports/café');
    expect(norm('a/%252e%252e/b')).toBe('a/%2e%2e/b');
    expect(norm('100%/a%zz/%4')).toBe('100%/a%zz/%4');
    expect(norm('a/%FF')).toBe('a/\uFFFD');
  });

  it('collapses repeated slashes and keeps a scheme and authority as they are', () => {
    expect(norm('buckets//logs///a')).toBe('buckets/logs/a');
    expect(norm('//a')).toBe('/a');
    expect(norm('https://api.example.com//repos/./acme/../x')).toBe('https://api.example.com/repos/x');
    expect(norm('file:///srv/../etc')).toBe('file:///etc');
    expect(norm('tickets://T-7')).toBe('tickets://T-7');
    expect(norm('tickets://T-7/.')).toBe('tickets://T-7/');
  });

  it('leaves an ordinary resource untouched', () => {
    for (const r of ['repos/acme/api', '/v1/items/42', 'db.orders', 'a/b/', '/repos/{owner}/{repo}', '']) expect(norm(r)).toBe(r);
  });

  it('is idempotent once decoding has nothing left to decode, and never keeps a dot segment', () => {
    const piece = fc.constantFrom('a', 'b', '/', '//', '.', '..', '%2F', '%2e', '%', 'é', '?x=..');
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 12 }).map((p) => p.join('')),
        (raw) => {
          const once = norm(raw);
          const segments = once.split('/');
          expect(segments.includes('..') || segments.includes('.')).toBe(false);
          expect(once.includes('//')).toBe(false);
          if (!once.includes('%')) expect(norm(once)).toBe(once);
        },
      ),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 500) },
    );
  });
});

describe('percentDecode', () => {
  it('decodes runs of escapes as UTF-8 and leaves stray percent signs', () => {
    expect(percentDecode('%E2%9C%93 ok %')).toBe('✓ ok %');
  });
});
