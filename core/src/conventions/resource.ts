/**
 * The normal form of a resource (docs/conventions.md §1.1 `token.resource`, `url.path`, `http.route`)
 * that grants are matched against: percent-escapes decoded once (as UTF-8), repeated slashes
 * collapsed, and `.` / `..` segments resolved as RFC 3986 §5.2.4 does (a `..` above the start is
 * dropped). A `scheme://authority` prefix is kept as it is and the rest normalised.
 *
 * Why at ingest and not at match time: the collector normalises once per span and stores the
 * result in `spans.resource` (the raw form beside it in `resource_raw` when it differs), so the
 * SQL detectors, the API's views and the dashboards all read the same normal form, computed by
 * one implementation — two implementations (SQL and JavaScript) would have to agree on every
 * decoding corner, and each detector run would pay the cost again for every row it reads.
 *
 * normalizeResource('buckets/logs/x%2F..%2F..%2Fsecrets%2Fkey') → { resource: 'buckets/secrets/key', climbed: true }
 * normalizeResource('buckets/logs/a/./b') → { resource: 'buckets/logs/a/b', climbed: false }
 */
export interface NormalizedResource {
  resource: string;
  /** A `..` segment removed a segment before it (or tried to climb above the start). */
  climbed: boolean;
}

/** `scheme://authority`, kept as it is: anchored, and no quantifier can overlap another. */
const ORIGIN = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/;

/** Whether the text can need normalising at all (the common case returns here, untouched). */
function plain(s: string): boolean {
  if (s.indexOf('%') >= 0 || s.indexOf('//') >= 0) return false;
  if (s.indexOf('/.') >= 0 || s.startsWith('.')) return false;
  return true;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** `text` with every `%XX` decoded once; runs of escapes are read as UTF-8 (invalid bytes → U+FFFD). */
export function percentDecode(text: string): string {
  if (text.indexOf('%') < 0) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf('%', i);
    if (at < 0) break;
    out += text.slice(i, at);
    const bytes: number[] = [];
    let j = at;
    while (j + 2 < text.length && text.charCodeAt(j) === 37) {
      const hi = hex(text.charCodeAt(j + 1));
      const lo = hex(text.charCodeAt(j + 2));
      if (hi < 0 || lo < 0) break;
      bytes.push(hi * 16 + lo);
      j += 3;
    }
    if (bytes.length === 0) {
      out += '%';
      i = at + 1;
    } else {
      out += decoder.decode(Uint8Array.from(bytes));
      i = j;
    }
  }
  return out + text.slice(i);
}

/** The normal form of `raw` and whether its `..` segments climbed (see the module comment). */
export function normalizeResource(raw: string): NormalizedResource {
  if (plain(raw)) return { resource: raw, climbed: false };
  const origin = ORIGIN.exec(raw)?.[0] ?? '';
  const path = percentDecode(raw.slice(origin.length));
  const absolute = path.startsWith('/');
  const parts = path.split('/');
  const kept: string[] = [];
  let climbed = false;
  let trailing = false;
  for (let i = 0; i < parts.length; i++) {
    const seg = parts[i] as string;
    const last = i === parts.length - 1;
    if (seg === '..') {
      climbed = true;
      kept.pop();
      trailing = last;
    } else if (seg === '.') {
      trailing = last;
    } else if (seg === '') {
      // Repeated slashes collapse; a final empty segment is the trailing slash.
      trailing = last && i > 0;
    } else {
      kept.push(seg);
      trailing = false;
    }
  }
  let resource = (absolute ? '/' : '') + kept.join('/');
  if (trailing && kept.length > 0) resource += '/';
  // A path that resolves to nothing still names something: the root, not "no resource". An
  // origin with no path at all (`tickets://T-7`, an MCP resource URI) stays as it was sent.
  if (resource === '' && path !== '') resource = '/';
  return { resource: origin + resource, climbed };
}
