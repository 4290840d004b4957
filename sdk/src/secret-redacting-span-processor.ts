import type { AttributeValue, Attributes, Context } from '@opentelemetry/api';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { FINGERPRINT_PREFIX, namesCredential, redactKey, redactText, tokenFingerprint } from './secrets.js';

/** Options of {@link SecretRedactingSpanProcessor}. */
export interface SecretRedactingSpanProcessorOptions {
  /**
   * The processor that exports (e.g. a `BatchSpanProcessor`). It sees every span only after
   * redaction, whatever order processors are registered in. Without it, register this processor
   * before the exporting one.
   */
  next?: SpanProcessor;
  /** Called with how many secrets were replaced in a span (never with the secrets). */
  onRedact?: (count: number) => void;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Replaces secret-looking values — bearer tokens, JWTs, cloud access keys, provider API keys,
 * private keys, credentials in URLs — with their fingerprint before a span is exported: in span
 * attributes, event and link attributes, the span name, the status message and the resource.
 * The fingerprint is the `token.id` the same credential gets everywhere else, so the span still
 * says which token was involved.
 */
export class SecretRedactingSpanProcessor implements SpanProcessor {
  /** Secrets replaced since start. */
  redacted = 0;
  readonly #next: SpanProcessor | undefined;
  readonly #onRedact: ((count: number) => void) | undefined;
  readonly #resources = new WeakMap<Resource, Resource>();

  constructor(options: SecretRedactingSpanProcessorOptions = {}) {
    this.#next = options.next;
    this.#onRedact = options.onRedact;
  }

  onStart(span: Span, parentContext: Context): void {
    this.#next?.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    const count = this.#redact(span as Mutable<ReadableSpan>);
    if (count > 0) {
      this.redacted += count;
      this.#onRedact?.(count);
    }
    this.#next?.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.#next?.forceFlush() ?? Promise.resolve();
  }

  shutdown(): Promise<void> {
    return this.#next?.shutdown() ?? Promise.resolve();
  }

  #redact(span: Mutable<ReadableSpan>): number {
    let count = redactAttributes(span.attributes);
    for (const event of span.events) {
      const name = redactText(event.name);
      if (name.count) (event as Mutable<typeof event>).name = name.text;
      count += name.count + (event.attributes ? redactAttributes(event.attributes) : 0);
    }
    for (const link of span.links) if (link.attributes) count += redactAttributes(link.attributes);
    const name = redactText(span.name);
    if (name.count) span.name = name.text;
    count += name.count;
    const scope = span.instrumentationScope;
    if (scope) {
      const scopeName = redactText(scope.name);
      const scopeVersion = scope.version ? redactText(scope.version) : { text: scope.version, count: 0 };
      if (scopeName.count || scopeVersion.count) {
        span.instrumentationScope = { ...scope, name: scopeName.text, version: scopeVersion.text };
        count += scopeName.count + scopeVersion.count;
      }
    }
    if (span.status.message) {
      const message = redactText(span.status.message);
      if (message.count) span.status = { ...span.status, message: message.text };
      count += message.count;
    }
    return count + this.#redactResource(span);
  }

  /**
   * Swaps the span's resource for one with its secrets replaced, built once per resource (spans
   * of one resource keep sharing one object). Counts the secrets the first time only.
   */
  #redactResource(span: Mutable<ReadableSpan>): number {
    const resource = span.resource;
    // Attributes still being detected cannot be read yet; `startAgentTelemetry` builds its
    // resource from settled attributes and redacts it up front.
    if (resource.asyncAttributesPending) return 0;
    const known = this.#resources.get(resource);
    if (known) {
      span.resource = known;
      return 0;
    }
    const attributes = { ...resource.attributes };
    const count = redactAttributes(attributes);
    const clean = count > 0 ? resourceFromAttributes(attributes, resource.schemaUrl ? { schemaUrl: resource.schemaUrl } : {}) : resource;
    this.#resources.set(resource, clean);
    span.resource = clean;
    return count;
  }
}

/**
 * Replaces secrets in OpenTelemetry attribute names and values in place (the value of an
 * attribute named for a credential whole); returns how many were replaced.
 */
export function redactAttributes(attributes: Attributes): number {
  let count = 0;
  for (const original of Object.keys(attributes)) {
    let key = original;
    const named = redactKey(original);
    if (named.count) {
      attributes[named.key] = attributes[original];
      delete attributes[original];
      key = named.key;
      count += named.count;
    }
    const value = attributes[key];
    if (namesCredential(original) && (typeof value === 'string' || typeof value === 'number') && value !== '') {
      if (typeof value === 'number' || !value.startsWith(FINGERPRINT_PREFIX)) {
        attributes[key] = tokenFingerprint(String(value));
        count++;
      }
      continue;
    }
    if (typeof value === 'string') {
      const r = redactText(value);
      if (r.count) {
        attributes[key] = r.text;
        count += r.count;
      }
    } else if (Array.isArray(value)) {
      let changed = false;
      const next = value.map((item: unknown) => {
        if (typeof item !== 'string') return item;
        const r = redactText(item);
        if (r.count) {
          changed = true;
          count += r.count;
        }
        return r.text;
      });
      if (changed) attributes[key] = next as AttributeValue;
    }
  }
  return count;
}
