import { describe, expect, it } from 'vitest';
import { shownAuditName } from './audit-name.js';
import { redactUrlPasswords } from './redact-url.js';

describe('redactUrlPasswords', () => {
  it('hides the password of every URL in a text, valid URL or not, and keeps the rest', () => {
    expect(redactUrlPasswords('redis://:hunter2@cache:6379')).toBe('redis://:***@cache:6379');
    expect(redactUrlPasswords('got "redis://app:p@ss/w@redis:notaport" instead')).toBe('got "redis://app:***@redis:notaport" instead');
    expect(redactUrlPasswords('http://u:a@h and redis://:b@r')).toBe('http://u:***@h and redis://:***@r');
    expect(redactUrlPasswords('{"msg":"at \\"redis://:pw@h\\""}')).toBe('{"msg":"at \\"redis://:***@h\\""}');
  });

  it('leaves URLs without a password alone', () => {
    for (const t of ['http://host:8080/a', 'redis://user@host', 'no url here', 'a://b://c']) expect(redactUrlPasswords(t)).toBe(t);
  });
});

describe('shownAuditName', () => {
  it('drops the key characters of names written by earlier versions, and only those', () => {
    expect(shownAuditName('key:iw_ab1…3f0c')).toBe('key:…3f0c');
    expect(shownAuditName('analyst:key:analys…9a1b')).toBe('analyst:key:…9a1b');
    expect(shownAuditName('discarded by key:admin-…0c1d')).toBe('discarded by key:…0c1d');
    for (const n of ['key:analyst:5c1e09a2', 'detector:scope_creep', 'policy', 'key:…3f0c']) expect(shownAuditName(n)).toBe(n);
  });
});
