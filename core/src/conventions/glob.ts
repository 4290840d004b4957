/**
 * Resource patterns of CONVENTIONS.md §1.2: `*` matches within one path segment, `**` across
 * segments (including none). Everything else matches itself. Segments are separated by `/`.
 *
 * globToRegExp('repos/acme/*') matches 'repos/acme/api' but not 'repos/acme/api/issues';
 * globToRegExp('buckets/logs/**') matches 'buckets/logs' and 'buckets/logs/2026/11/a.gz'.
 */
export function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        // `/**` at the end, or `**/` in the middle, may match zero segments.
        const slashAfter = pattern[i + 2] === '/';
        if (out.endsWith('\\/') && i + 2 === pattern.length) {
          out = `${out.slice(0, -2)}(?:\\/.*)?`;
        } else if (slashAfter) {
          out += '(?:.*\\/)?';
          i += 1;
        } else {
          out += '.*';
        }
        i += 1;
      } else {
        out += '[^/]*';
      }
    } else {
      out += c.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${out}$`);
}

/** True when `resource` matches one of the glob `patterns` (empty patterns: no restriction). */
export function matchesAnyGlob(resource: string, patterns: readonly string[]): boolean {
  if (patterns.length === 0) return true;
  return patterns.some((p) => globToRegExp(p).test(resource));
}

/**
 * The same rule as a ClickHouse regular expression (RE2 syntax), so that detectors can match in
 * SQL with `match(resource, re)`. The JavaScript form above is RE2-compatible by construction.
 */
export function globToClickHouseRegex(pattern: string): string {
  return globToRegExp(pattern).source;
}
