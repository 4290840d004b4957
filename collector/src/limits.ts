import type { IngestLimits } from './settings.js';
import { HttpError } from '@intentwatch/core';

/**
 * What one ingest request may contain, checked while it is decoded. A body of a few kilobytes
 * can inflate to millions of empty spans, attributes or array items; each limit bounds what such
 * a body costs (time on the event loop, memory) and the decoder stops at the first one passed,
 * without decoding the rest. The defaults (`DEFAULT_INGEST_LIMITS`, from settings.ts) are far above any
 * batch an OpenTelemetry SDK or Collector sends.
 *
 * A decoder creates one `DecodeBudget` per request and calls it as it goes; OTLP traces (protobuf
 * and JSON) and the JSON event endpoints use it, and any other decoder (OTLP logs, say) can.
 */

/** The variable that sets each limit, named in every refusal so that an operator knows what to raise. */
export const LIMIT_VARIABLES: Record<keyof IngestLimits, string> = {
  maxItemsPerRequest: 'INTENTWATCH_MAX_SPANS_PER_REQUEST',
  maxGroupsPerRequest: 'INTENTWATCH_MAX_RESOURCES_PER_REQUEST',
  maxAttributesPerItem: 'INTENTWATCH_MAX_DECODED_ATTRIBUTES',
  maxValuesPerItem: 'INTENTWATCH_MAX_VALUES_PER_SPAN',
  maxListItems: 'INTENTWATCH_MAX_ARRAY_ITEMS',
  maxStringLength: 'INTENTWATCH_MAX_STRING_LENGTH',
  maxDepth: 'INTENTWATCH_MAX_NESTING_DEPTH',
};

/** A request past one of the ingest limits: 413, with a message naming the limit and its variable. */
export class LimitExceededError extends HttpError {
  readonly limit: keyof IngestLimits;
  /** What was passed, with the limit: "more than 65536 spans in one request". */
  readonly what: string;

  /** `what` says what was passed, with the limit: "more than 65536 spans in one request". */
  constructor(limit: keyof IngestLimits, what: string) {
    const advice = limit === 'maxItemsPerRequest' || limit === 'maxGroupsPerRequest' ? '; send smaller batches' : '';
    super(413, 'limit_exceeded', `${what} (${LIMIT_VARIABLES[limit]}); nothing of the request was stored${advice}`);
    this.limit = limit;
    this.what = what;
  }
}

/**
 * Counts what a decoder has read of one request and throws a {@link LimitExceededError} the
 * moment a limit is passed. Items are spans or events; groups are the containers that hold them
 * (ResourceSpans, ScopeSpans); an item's values are its attributes plus every array or key-value
 * list item nested in them. `work` grows with everything counted, for decoders that yield to the
 * event loop every so much work.
 */
export class DecodeBudget {
  readonly limits: IngestLimits;
  items = 0;
  groups = 0;
  /** Values of the span, resource or event being read. */
  values = 0;
  /** Everything counted so far (items, groups and values). */
  work = 0;
  readonly #itemName: string;
  readonly #one: string;
  /** The limits checked on every value, as own fields: the hot path reads nothing else. */
  readonly #maxValues: number;
  readonly #maxItems: number;

  /** `itemName`: what the request's items are called in messages ("spans", "events"). */
  constructor(limits: IngestLimits, itemName = 'spans') {
    this.limits = limits;
    this.#maxValues = limits.maxValuesPerItem;
    this.#maxItems = limits.maxItemsPerRequest;
    this.#itemName = itemName;
    this.#one = `${itemName.replace(/s$/, '')} or resource`;
  }

  /** One more span or event in the request. */
  item(): void {
    this.work++;
    if (++this.items > this.#maxItems) {
      throw new LimitExceededError('maxItemsPerRequest', `more than ${this.limits.maxItemsPerRequest} ${this.#itemName} in one request`);
    }
  }

  /** One more resource or scope group (`what` names it: "resources (ResourceSpans)"). */
  group(what: string): void {
    this.work++;
    if (++this.groups > this.limits.maxGroupsPerRequest) {
      throw new LimitExceededError('maxGroupsPerRequest', `more than ${this.limits.maxGroupsPerRequest} ${what} in one request`);
    }
  }

  /** Starts counting the values of a new span, resource or event. */
  startItem(): void {
    this.values = 0;
  }

  /** One more value (an attribute, or an item of an array or key-value list) in the current span, resource or event. */
  value(): void {
    this.work++;
    if (++this.values > this.#maxValues) {
      throw new LimitExceededError(
        'maxValuesPerItem',
        `more than ${this.limits.maxValuesPerItem} values (attributes and the items nested in them) in one ${this.#one}`,
      );
    }
  }

  /** `count` attributes on one span, resource or event (checked as they are read). */
  attributes(count: number): void {
    if (count > this.limits.maxAttributesPerItem) {
      throw new LimitExceededError('maxAttributesPerItem', `more than ${this.limits.maxAttributesPerItem} attributes on one ${this.#one}`);
    }
  }

  /** `count` items in one array or key-value list. */
  listItems(count: number): void {
    if (count > this.limits.maxListItems) {
      throw new LimitExceededError('maxListItems', `more than ${this.limits.maxListItems} items in one array or key-value list`);
    }
  }

  /** A string (value or key) of `length` (bytes in protobuf, UTF-16 units in JSON). */
  string(length: number): void {
    if (length > this.limits.maxStringLength) {
      throw new LimitExceededError('maxStringLength', `a string longer than ${this.limits.maxStringLength}`);
    }
  }

  /** A value nested `depth` levels deep (an attribute's own value is level 1). */
  depth(depth: number): void {
    if (depth > this.limits.maxDepth) {
      throw new LimitExceededError('maxDepth', `a value nested more than ${this.limits.maxDepth} levels deep`);
    }
  }
}
