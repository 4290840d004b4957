import type { IngestLimits } from './settings.js';
import { DecodeBudget } from './limits.js';

/**
 * Checks a JSON body against the ingest limits before `JSON.parse` builds anything: one pass over
 * the text that allocates nothing per value and throws a LimitExceededError at the first limit
 * passed — an array with more items, an object with more keys, a string longer or a nesting
 * deeper than allowed. The parse that follows is bounded by what this pass let through; the
 * decoders then count exactly what the OTLP or event model holds (values per span, nesting of
 * attribute values) with a {@link DecodeBudget} of their own.
 *
 * `shape` says which arrays are which: in OTLP/JSON `resourceSpans` and `scopeSpans` count as
 * groups, `spans` as items and `attributes` against the attributes limit; in OTLP/JSON logs
 * `resourceLogs` and `scopeLogs` are the groups and `logRecords` the items, and a record's `body`
 * (the source's own record, a whole CloudTrail file as one string, say) is bounded by the body
 * size and the nesting limit, not by the string length limit; in an event body the top-level
 * array holds the items and each event's keys are its attributes. Every other array or object is
 * a list. Strings are measured as written (escapes included). Text that is not JSON is left for
 * `JSON.parse` to refuse.
 */
export type JsonShape = 'otlp' | 'logs' | 'events';
export function checkJsonLimits(text: string, limits: IngestLimits, shape: JsonShape): void {
  const steps = jsonLimitSteps(text, limits, shape, Number.POSITIVE_INFINITY);
  while (!steps.next().done) {
    // one pass, no pauses
  }
}

/** {@link checkJsonLimits} as steps: it pauses (yields) after every `slice` characters. */
export function* jsonLimitSteps(text: string, limits: IngestLimits, shape: JsonShape, slice: number): Generator<void, void> {
  let nextPause = slice;
  const budget = new DecodeBudget(limits, shape === 'otlp' ? 'spans' : shape === 'logs' ? 'log records' : 'events');
  const otlp = shape !== 'events';
  const groupsName =
    shape === 'logs' ? 'resources and scopes (resourceLogs and scopeLogs)' : 'resources and scopes (resourceSpans and scopeSpans)';
  /** The depth of the log record body being read (-1: none); its strings are not length-checked. */
  let bodyDepth = -1;
  // OTLP/JSON spends 3 to 4 levels of JSON per level of attribute value (value, arrayValue,
  // values, item) and 10 levels of structure above an attribute's value; an event's value sits
  // right in the event, in the top-level array.
  const maxJsonDepth = otlp ? 4 * limits.maxDepth + 12 : limits.maxDepth + 2;
  const maxString = limits.maxStringLength;
  const objectKeys = Math.max(64, limits.maxListItems);
  const kinds: number[] = [];
  const counts: number[] = [];
  let depth = 0;
  /** Inside an object and the next string is a key. */
  let expectKey = false;
  let keyStart = 0;
  let keyEnd = 0;
  const n = text.length;
  let i = 0;

  const count = () => {
    if (depth === 0) return;
    const at = depth - 1;
    const c = ++counts[at]!;
    switch (kinds[at]! & ~OBJECT) {
      case ITEMS:
        budget.item();
        break;
      case GROUPS:
        budget.group(groupsName);
        break;
      case ATTRIBUTES:
        budget.attributes(c);
        break;
      case OTLP_OBJECT:
        // The messages of OTLP/JSON have a few fields each: keys past that are junk, bounded
        // like a list's items (but never below what the messages themselves need).
        if (c > objectKeys) budget.listItems(c);
        break;
      default:
        budget.listItems(c);
    }
  };
  const open = (isObject: boolean) => {
    if (depth >= maxJsonDepth) budget.depth(limits.maxDepth + 1);
    let kind = LIST;
    const parent = depth > 0 ? kinds[depth - 1]! : NONE;
    if (shape === 'events') {
      if (isObject && (depth === 0 || (depth === 1 && parent === ITEMS))) kind = ATTRIBUTES;
      else if (!isObject && depth === 0) kind = ITEMS;
    } else if (!isObject && (parent & OBJECT) !== 0 && keyEnd - keyStart <= 14) {
      const key = text.slice(keyStart, keyEnd);
      if (shape === 'logs' ? key === 'logRecords' || key === 'log_records' : key === 'spans') kind = ITEMS;
      else if (shape === 'logs' ? LOG_GROUPS.has(key) : SPAN_GROUPS.has(key)) kind = GROUPS;
      else if (key === 'attributes') kind = ATTRIBUTES;
    } else if (shape === 'logs' && isObject && bodyDepth < 0 && (parent & OBJECT) !== 0 && keyEnd - keyStart === 4) {
      if (text.slice(keyStart, keyEnd) === 'body') bodyDepth = depth;
    }
    if (isObject && otlp) kind = OTLP_OBJECT;
    kinds[depth] = isObject ? kind | OBJECT : kind;
    counts[depth] = 0;
    depth++;
    expectKey = isObject;
  };

  while (i < n) {
    if (i >= nextPause) {
      nextPause = i + slice;
      yield;
    }
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let end = text.indexOf('"', i + 1);
      while (end > 0 && escaped(text, end)) end = text.indexOf('"', end + 1);
      if (end < 0) return; // unterminated: JSON.parse says so
      const start = i + 1;
      if (end - start > maxString && bodyDepth < 0) budget.string(end - start);
      if (expectKey && depth > 0 && (kinds[depth - 1]! & OBJECT) !== 0) {
        keyStart = start;
        keyEnd = end;
        expectKey = false;
        count();
      } else if (depth > 0 && (kinds[depth - 1]! & OBJECT) === 0) count();
      i = end + 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth > 0 && (kinds[depth - 1]! & OBJECT) === 0) count();
      open(c === OPEN_BRACE);
      i++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth === 0) return; // unbalanced: JSON.parse says so
      depth--;
      if (depth === bodyDepth) bodyDepth = -1;
      expectKey = false;
      i++;
    } else if (c === COMMA) {
      expectKey = depth > 0 && (kinds[depth - 1]! & OBJECT) !== 0;
      i++;
    } else if (c === COLON || c === SPACE || c === TAB || c === LF || c === CR) {
      i++;
    } else {
      // A number, true, false, null (or junk): one value up to the next delimiter.
      if (depth > 0 && (kinds[depth - 1]! & OBJECT) === 0) count();
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || d === QUOTE || d === SPACE || d === LF || d === CR || d === TAB)
          break;
        i++;
      }
    }
  }
}

/** Whether the quote at `at` is escaped (preceded by an odd number of backslashes). */
function escaped(text: string, at: number): boolean {
  let k = at - 1;
  while (k >= 0 && text.charCodeAt(k) === BACKSLASH) k--;
  return (at - 1 - k) % 2 === 1;
}

const SPAN_GROUPS = new Set(['resourceSpans', 'resource_spans', 'scopeSpans', 'scope_spans']);
const LOG_GROUPS = new Set(['resourceLogs', 'resource_logs', 'scopeLogs', 'scope_logs']);

const NONE = 0;
const LIST = 1;
const ITEMS = 2;
const GROUPS = 3;
const ATTRIBUTES = 4;
/** An object of OTLP/JSON (a message): its keys are fields. */
const OTLP_OBJECT = 5;
/** Flag on a kind: the container is an object (its keys count, not its values). */
const OBJECT = 8;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
