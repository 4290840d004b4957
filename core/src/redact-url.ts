/** What a URL's password is replaced by. */
export const REDACTED_PASSWORD = '***';

const isBreak = (text: string, i: number): boolean => {
  const c = text.charCodeAt(i);
  // whitespace and control characters, <, >, ' and an unescaped " (the end of a JSON string)
  if (c <= 0x20 || c === 0x7f || c === 0x3c || c === 0x3e || c === 0x27) return true;
  return c === 0x22 && text.charCodeAt(i - 1) !== 0x5c;
};

/**
 * `text` with the password of every `scheme://user:password@host` in it replaced by `***`
 * (`redis://:hunter2@cache:6379` → `redis://:***@cache:6379`), for configuration errors and log
 * lines. Works on text that is not a valid URL too (a value refused by the configuration): from
 * each `://`, everything between the first `:` and the last `@` before the next space or quote is
 * the password, so a password holding `@` or `/` is hidden whole — at worst a little more is
 * hidden than needed. One pass over the text, no regular expression.
 *
 * redactUrlPasswords('REDIS_URL: got "redis://app:s3cret@redis:6379/0"') === 'REDIS_URL: got "redis://app:***@redis:6379/0"'
 */
export function redactUrlPasswords(text: string): string {
  let at = text.indexOf('://');
  if (at < 0) return text;
  let out = '';
  let from = 0;
  while (at >= 0) {
    let colon = -1;
    let lastAt = -1;
    let i = at + 3;
    for (; i < text.length && !isBreak(text, i); i++) {
      const c = text.charCodeAt(i);
      if (c === 0x3a && colon < 0) colon = i;
      else if (c === 0x40) lastAt = i;
    }
    if (colon >= 0 && lastAt > colon) {
      out += `${text.slice(from, colon + 1)}${REDACTED_PASSWORD}`;
      from = lastAt;
    }
    at = text.indexOf('://', Math.max(i, at + 3));
  }
  return out + text.slice(from);
}
