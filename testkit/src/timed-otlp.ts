import { randomBytes } from 'node:crypto';

/** An attribute value, or one computed from the scenario's start (epoch ms) when it is sent. */
export type AttrInput = string | number | boolean | string[] | ((baseMs: number) => string);

/** A span placed in time: `at` seconds after the start, with its attributes and resource attributes. */
export interface TimedSpan {
  at: number;
  name: string;
  attrs: Record<string, AttrInput>;
  resource: Record<string, string>;
}

type AnyValue =
  | { stringValue: string }
  | { intValue: string }
  | { doubleValue: number }
  | { boolValue: boolean }
  | { arrayValue: { values: AnyValue[] } };

function anyValue(v: Exclude<AttrInput, (b: number) => string>): AnyValue {
  if (Array.isArray(v)) return { arrayValue: { values: v.map((x) => ({ stringValue: x })) } };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  return { stringValue: v };
}

/** A span's attributes with lazily computed values evaluated at `baseMs`. */
export function resolveAttrs(attrs: Record<string, AttrInput>, baseMs: number): Record<string, Exclude<AttrInput, (b: number) => string>> {
  const out: Record<string, Exclude<AttrInput, (b: number) => string>> = {};
  for (const [k, v] of Object.entries(attrs)) out[k] = typeof v === 'function' ? v(baseMs) : v;
  return out;
}

const keyValues = (attrs: Record<string, Exclude<AttrInput, (b: number) => string>>) =>
  Object.entries(attrs).map(([key, value]) => ({ key, value: anyValue(value) }));

/**
 * An OTLP/JSON ExportTraceServiceRequest for `spans`, one resource per distinct resource
 * attribute set, each span at `baseMs + at` seconds with fresh trace and span ids.
 */
export function timedOtlpJson(spans: readonly TimedSpan[], baseMs: number): string {
  const byResource = new Map<string, TimedSpan[]>();
  for (const s of spans) {
    const key = JSON.stringify(Object.entries(s.resource).sort());
    byResource.set(key, [...(byResource.get(key) ?? []), s]);
  }
  return JSON.stringify({
    resourceSpans: [...byResource.values()].map((group) => ({
      resource: { attributes: keyValues(group[0]?.resource ?? {}) },
      scopeSpans: [
        {
          scope: { name: 'intentwatch-scenarios' },
          spans: group.map((s) => {
            const startNs = BigInt(Math.round((baseMs + s.at * 1000) * 1000)) * 1000n;
            return {
              traceId: randomBytes(16).toString('hex'),
              spanId: randomBytes(8).toString('hex'),
              name: s.name,
              kind: 3,
              startTimeUnixNano: startNs.toString(),
              endTimeUnixNano: (startNs + 5_000_000n).toString(),
              attributes: keyValues(resolveAttrs(s.attrs, baseMs)),
            };
          }),
        },
      ],
    })),
  });
}

/** The JSON event form (docs/conventions.md §1.4) of lifecycle spans. */
export function timedJsonEvents(spans: readonly TimedSpan[], baseMs: number): string {
  return JSON.stringify(spans.map((s) => ({ ...resolveAttrs(s.attrs, baseMs), time: new Date(baseMs + s.at * 1000).toISOString() })));
}
