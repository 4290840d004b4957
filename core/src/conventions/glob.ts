/**
 * Resource patterns of docs/conventions.md §1.2: `*` matches within one path segment, `**` across
 * segments (including none). Everything else matches itself. Segments are separated by `/`.
 *
 * There is one semantics and two linear-time implementations of it: {@link compileGlob} here
 * (a simulation of the pattern's automaton, O(pattern × resource), no backtracking), and the
 * RE2 regular expression of {@link globToClickHouseRegex} that the detectors run in ClickHouse
 * (RE2 never backtracks either). A pattern becomes a list of elements by the same steps in both:
 *
 * 1. a trailing `/**` is "`/` and anything, or nothing" (`buckets/logs/**` matches `buckets/logs`);
 * 2. every `**​/`, leftmost first, is "anything ending in `/`, or nothing" (`**​/a` matches `a`);
 * 3. every remaining `**` is "anything"; 4. every remaining `*` is "anything but `/`".
 *
 * A property test (detectors/src/intent/sql.test.ts) runs both over generated patterns and paths.
 *
 * matchesGlob('repos/acme/*', 'repos/acme/api') === true; matchesGlob('repos/acme/*', 'repos/acme/api/x') === false
 */

/** Longest pattern a grant may carry (the collector refuses longer ones). */
export const MAX_GLOB_LENGTH = 256;
/** Most `*` characters a pattern may hold (the collector refuses more). */
export const MAX_GLOB_WILDCARDS = 16;

const SLASH = 47;
/** Element kinds: a literal UTF-16 unit, a loop over anything, a loop over anything but `/`, a choice. */
const LIT = 0;
const ANY = 1;
const STAR = 2;
const EMPTY = 3;

/**
 * A pattern ready to match, as a bit-parallel automaton (Shift-And with empty moves): state `j`
 * is "the first j elements have matched"; states are bits of 32-bit words.
 */
export interface CompiledGlob {
  readonly pattern: string;
  /** Number of elements; state `size` is the match. */
  readonly size: number;
  /** Per UTF-16 unit of the pattern's literals: the states that a literal of that unit leaves. */
  readonly literals: Map<number, Uint32Array>;
  /** States of a loop over anything (`**`), and over anything but `/` (`*`). */
  readonly loopAny: Uint32Array;
  readonly loopStar: Uint32Array;
  /** Empty moves, sources ascending: from state `from[i]` to state `to[i]`. */
  readonly from: Uint16Array;
  readonly to: Uint16Array;
}

type Piece = { k: 'lit'; text: string } | { k: 'any' } | { k: 'star' } | { k: 'anySlash' } | { k: 'slashAny' };

/** Splits `text` at every `sep`, leftmost first and non-overlapping (as a regex replace does). */
function split(text: string, sep: string, between: () => Piece[], rest: (s: string) => Piece[]): Piece[] {
  const out: Piece[] = [];
  let start = 0;
  let i = text.indexOf(sep);
  while (i >= 0) {
    out.push(...rest(text.slice(start, i)), ...between());
    start = i + sep.length;
    i = text.indexOf(sep, start);
  }
  out.push(...rest(text.slice(start)));
  return out;
}

function pieces(pattern: string): Piece[] {
  const tail = pattern.endsWith('/**');
  const body = tail ? pattern.slice(0, -3) : pattern;
  const stars = (s: string): Piece[] =>
    split(
      s,
      '*',
      () => [{ k: 'star' }],
      (t) => (t ? [{ k: 'lit', text: t }] : []),
    );
  const doubles = (s: string) => split(s, '**', () => [{ k: 'any' }], stars);
  const out = split(body, '**/', () => [{ k: 'anySlash' }], doubles);
  if (tail) out.push({ k: 'slashAny' });
  return out;
}

/** Compiles `pattern` once for many {@link matchesGlob} calls. */
export function compileGlob(pattern: string): CompiledGlob {
  const kind: number[] = [];
  const unit: number[] = [];
  const jump: number[] = [];
  const add = (k: number, u = 0, j = 0) => {
    kind.push(k);
    unit.push(u);
    jump.push(j);
  };
  for (const p of pieces(pattern)) {
    if (p.k === 'lit') for (let i = 0; i < p.text.length; i++) add(LIT, p.text.charCodeAt(i));
    else if (p.k === 'any') add(ANY);
    else if (p.k === 'star') add(STAR);
    else if (p.k === 'anySlash') {
      // Anything then `/`, or neither: a state that consumes nothing and may skip both.
      add(EMPTY, 0, kind.length + 3);
      add(ANY);
      add(LIT, SLASH);
    } else {
      // `/` then anything, or neither.
      add(EMPTY, 0, kind.length + 3);
      add(LIT, SLASH);
      add(ANY);
    }
  }
  const size = kind.length;
  const words = (size >> 5) + 1;
  const bits = () => new Uint32Array(words);
  const set = (b: Uint32Array, j: number) => {
    b[j >> 5] = ((b[j >> 5] as number) | (1 << (j & 31))) >>> 0;
  };
  const literals = new Map<number, Uint32Array>();
  const loopAny = bits();
  const loopStar = bits();
  const from: number[] = [];
  const to: number[] = [];
  for (let j = 0; j < size; j++) {
    const k = kind[j];
    if (k === LIT) {
      const u = unit[j] as number;
      let b = literals.get(u);
      if (!b) {
        b = bits();
        literals.set(u, b);
      }
      set(b, j);
    } else {
      if (k !== EMPTY) set(k === ANY ? loopAny : loopStar, j);
      from.push(j);
      to.push(j + 1);
    }
    if (jump[j]) {
      from.push(j);
      to.push(jump[j] as number);
    }
  }
  return { pattern, size, literals, loopAny, loopStar, from: Uint16Array.from(from), to: Uint16Array.from(to) };
}

/** Adds to `states` every state reachable by empty moves (all go forward, sources ascending). */
function close(g: CompiledGlob, states: Uint32Array): void {
  const { from, to } = g;
  for (let i = 0; i < from.length; i++) {
    const f = from[i] as number;
    if (((states[f >> 5] as number) >>> (f & 31)) & 1) {
      const t = to[i] as number;
      states[t >> 5] = ((states[t >> 5] as number) | (1 << (t & 31))) >>> 0;
    }
  }
}

const NONE = new Uint32Array(0);

/**
 * True when the whole of `resource` matches `glob`. Linear in the resource for a given pattern:
 * one pass, each step a few operations per 32 states of the pattern and per wildcard.
 */
export function matchesGlob(glob: CompiledGlob | string, resource: string): boolean {
  const g = typeof glob === 'string' ? compileGlob(glob) : glob;
  const words = g.loopAny.length;
  let cur = new Uint32Array(words);
  let next = new Uint32Array(words);
  cur[0] = 1;
  close(g, cur);
  for (let i = 0; i < resource.length; i++) {
    const c = resource.charCodeAt(i);
    const lit = g.literals.get(c) ?? NONE;
    const star = c !== SLASH;
    let alive = 0;
    let carry = 0;
    for (let w = 0; w < words; w++) {
      const s = cur[w] as number;
      const l = lit.length ? s & (lit[w] as number) : 0;
      let n = ((l << 1) | carry) >>> 0;
      carry = l >>> 31;
      n |= s & (g.loopAny[w] as number);
      if (star) n |= s & (g.loopStar[w] as number);
      next[w] = n >>> 0;
      alive |= n;
    }
    if (alive === 0) return false;
    close(g, next);
    [cur, next] = [next, cur];
  }
  return (((cur[g.size >> 5] as number) >>> (g.size & 31)) & 1) === 1;
}

/**
 * A test of resources against the glob `patterns`, compiled once: true when one matches, and
 * always when there are no patterns (no restriction).
 */
export function anyGlobMatcher(patterns: readonly string[]): (resource: string) => boolean {
  if (patterns.length === 0) return () => true;
  const compiled = patterns.map(compileGlob);
  return (resource) => compiled.some((g) => matchesGlob(g, resource));
}

/** True when `resource` matches one of the glob `patterns` (empty patterns: no restriction). */
export function matchesAnyGlob(resource: string, patterns: readonly string[]): boolean {
  return anyGlobMatcher(patterns)(resource);
}

const RE2_SPECIAL = new Set(['.', '+', '?', '^', '$', '{', '}', '(', ')', '|', '[', ']', '\\']);

/**
 * The same rule as an RE2 regular expression (ClickHouse's `match()`): `*` → `[^/]*`, `**` →
 * `.*`, `**​/` → "anything then `/`, optionally", a trailing `/**` → `(?:/.*)?`, everything else escaped. In ClickHouse
 * `.` also matches a line break, as `**` does here. The detectors build the same expression in
 * SQL from the stored patterns (`globRegexSql` in detectors).
 */
export function globToClickHouseRegex(pattern: string): string {
  let out = '^';
  for (const p of pieces(pattern)) {
    if (p.k === 'lit') for (const ch of p.text) out += RE2_SPECIAL.has(ch) ? `\\${ch}` : ch;
    else if (p.k === 'any') out += '.*';
    else if (p.k === 'star') out += '[^/]*';
    else if (p.k === 'anySlash') out += '(?:.*/)?';
    else out += '(?:/.*)?';
  }
  return `${out}$`;
}

/**
 * Why a `token.resources` pattern cannot be accepted, or undefined: longer than
 * {@link MAX_GLOB_LENGTH}, more than {@link MAX_GLOB_WILDCARDS} `*`, or a control character
 * (which the SQL form cannot carry). Bounding the pattern bounds the cost of every match.
 */
export function globProblem(pattern: string): string | undefined {
  if (pattern.length > MAX_GLOB_LENGTH) {
    return `is ${pattern.length} characters long; at most ${MAX_GLOB_LENGTH} are allowed`;
  }
  let stars = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    if (c === 42) stars++;
    else if (c < 0x20 || c === 0x7f) return 'contains a control character';
  }
  if (stars > MAX_GLOB_WILDCARDS) return `has ${stars} wildcards (*); at most ${MAX_GLOB_WILDCARDS} are allowed`;
  return undefined;
}
