/**
 * JSON can carry unpaired UTF-16 surrogates (`"\ud800"`), which JSON.parse turns into lone
 * surrogates. ClickHouse refuses them on insert, and one such string would fail the insert of the
 * whole batch it is in, other senders' rows included. They are replaced by U+FFFD at the door.
 */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `text` with every lone surrogate replaced by U+FFFD. */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

const reviver = (_key: string, value: unknown) => (typeof value === 'string' ? wellFormed(value) : value);

/**
 * JSON.parse whose strings are all well formed. Object keys are not revived: callers that use keys
 * as data (event attribute names) pass them through {@link wellFormed} themselves. The reviver
 * only runs when the text has a surrogate escape at all, so ordinary bodies parse at full speed.
 */
export function parseJson(text: string): unknown {
  return SURROGATE_ESCAPE.test(text) ? JSON.parse(text, reviver) : JSON.parse(text);
}
