import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NewPolicyInput } from './policy-schema.js';
import {
  POLICY_LIMITS,
  parsePolicy,
  policyMatches,
  publicPolicy,
  resolveSecrets,
  resolveUrl,
  restoreSecrets,
  sealSecrets,
} from './policy.js';
import { SecretBox } from './secret-box.js';
import { readPolicyFile } from './policy-store.js';

const SECRET = `whsec_${Buffer.from('a-secret-of-thirty-two-bytes!!!!').toString('base64')}`;
const base = { id: 'broker', endpoint: { url: 'https://broker.example.com/revoke', secrets: [SECRET] } };
const alert = { detector: 'scope_creep', severity: 'high', environment: 'prod', agentId: 'triage-bot' };

describe('parsePolicy', () => {
  it('fills in safe defaults: session revoke, standard body, live, 10 a minute', () => {
    const p = parsePolicy(base, 'api');
    expect(p).toMatchObject({ enabled: true, revoke: 'session', body: 'standard', dryRun: false, maxPerMinute: 10, match: {} });
  });

  it('names the field, what it expects and what it got', () => {
    expect(() => parsePolicy({ ...base, revoke: 'everything' }, 'api')).toThrow(/revoke: expected token, session, chain, got "everything"/);
    expect(() => parsePolicy({ ...base, match: { severities: ['urgent'] } }, 'api')).toThrow(/match.severities/);
    expect(() => parsePolicy({ ...base, maxPerMinute: 0 }, 'api')).toThrow(/maxPerMinute/);
    expect(() => parsePolicy({ ...base, dry_run: true }, 'api')).toThrow(/dry_run/);
  });

  it('reads null as an absent field and ignores unknown endpoint and retry fields, as a policies file may hold them', () => {
    const p = parsePolicy(
      {
        ...base,
        description: null,
        maxPerMinute: null,
        match: null,
        endpoint: { ...base.endpoint, timeoutMs: null, note: 'x' },
        retry: { maxAttempts: null, baseDelayMs: 50, jitter: true },
      },
      'file',
    );
    expect(p).toMatchObject({ description: '', maxPerMinute: 10, match: {}, retry: { baseDelayMs: 50 } });
    expect(p.endpoint).toEqual({ url: base.endpoint.url, secrets: [SECRET] });
    expect(p.retry).toEqual({ baseDelayMs: 50 });
  });

  it('tells the first of several problems in field order: unknown fields, the id, the endpoint, then the rest', () => {
    const wrong = { ...base, revoke: 'all', endpoint: { url: 'ftp://broker.example.com/revoke', secrets: [SECRET] } };
    expect(() => parsePolicy(wrong, 'file')).toThrow(/^endpoint\.url: expected an http\(s\) URL/);
    expect(() => parsePolicy({ ...wrong, id: '-lead' }, 'file')).toThrow(/^id: /);
    expect(() => parsePolicy({ ...wrong, id: '-lead', dry_run: true }, 'file')).toThrow(/^dry_run: /);
    expect(() => parsePolicy({ ...base, revoke: 'all', retry: { maxAttempts: 0 }, match: { agents: [''] } }, 'file')).toThrow(/^revoke: /);
  });

  it('names a match list with a wrong item and shows the list whole', () => {
    expect(() => parsePolicy({ ...base, match: { environments: ['prod', ''] } }, 'api')).toThrow(
      'match.environments: expected an array of environment names, got ["prod",""]',
    );
    expect(() => parsePolicy({ ...base, match: { detectors: null } }, 'api')).toThrow(
      'match.detectors: expected an array of detector ids, got null',
    );
  });

  it('takes one or two whsec_ secrets or env: references, and never echoes a bad secret', () => {
    expect(() => parsePolicy({ ...base, endpoint: { ...base.endpoint, secrets: [] } }, 'api')).toThrow(/one or two/);
    expect(() => parsePolicy({ ...base, endpoint: { ...base.endpoint, secrets: [SECRET, SECRET, SECRET] } }, 'api')).toThrow(/one or two/);
    let message = '';
    try {
      parsePolicy({ ...base, endpoint: { ...base.endpoint, secrets: ['plain-text-password-123'] } }, 'api');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/endpoint.secrets/);
    expect(message).not.toContain('plain-text-password-123');
    const p = parsePolicy({ ...base, endpoint: { ...base.endpoint, secrets: ['env:BROKER_SECRET'] } }, 'api');
    expect(resolveSecrets(p, { BROKER_SECRET: SECRET })).toEqual([SECRET]);
    expect(() => resolveSecrets(p, {})).toThrow(/env:BROKER_SECRET/);
  });

  it('shows secrets only as fingerprints, and takes a fingerprint back as the secret it stands for', () => {
    const p = parsePolicy(base, 'api');
    const shown = publicPolicy(p);
    expect(JSON.stringify(shown)).not.toContain(SECRET);
    expect(shown.endpoint.secrets[0]).toMatch(/^whsec_…[0-9a-f]{12}$/);
    const edited = parsePolicy({ ...shown, maxPerMinute: 3 }, 'api');
    expect(restoreSecrets(edited, p).endpoint.secrets).toEqual([SECRET]);
    expect(() => restoreSecrets(edited, undefined)).toThrow(/redacted/);
  });
});

describe('policyMatches', () => {
  it('matches on detector, severity (exact or minimum), environment and agent glob', () => {
    const m = (match: object) => policyMatches(parsePolicy({ ...base, match }, 'api'), alert);
    expect(m({})).toBe(true);
    expect(m({ detectors: ['scope_creep'], minSeverity: 'high', environments: ['prod'], agents: ['triage-*'] })).toBe(true);
    expect(m({ detectors: ['cross_service_reuse'] })).toBe(false);
    expect(m({ minSeverity: 'critical' })).toBe(false);
    expect(m({ severities: ['medium', 'high'] })).toBe(true);
    expect(m({ environments: ['staging'] })).toBe(false);
    expect(m({ agents: ['deploy-*'] })).toBe(false);
  });

  it('never acts on the alerts the responders raise themselves, nor for a disabled policy', () => {
    const p = parsePolicy(base, 'api');
    expect(policyMatches(p, { ...alert, detector: 'responder_rate_limit' })).toBe(false);
    expect(policyMatches({ ...p, enabled: false }, alert)).toBe(false);
  });
});

describe('readPolicyFile', () => {
  it('reads an array or { policies } and names the file and policy of a mistake', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iw-pol-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ policies: [base, { ...base, id: 'second', dryRun: true }] }));
    expect(readPolicyFile(good).map((p) => [p.id, p.source, p.dryRun])).toEqual([
      ['broker', 'file', false],
      ['second', 'file', true],
    ]);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify([base, { ...base, id: 'x', revoke: 'all' }]));
    expect(() => readPolicyFile(bad)).toThrow(/INTENTWATCH_POLICIES_FILE: policy 2 in .*bad\.json: revoke/);
    const twice = join(dir, 'twice.json');
    writeFileSync(twice, JSON.stringify([base, base]));
    expect(() => readPolicyFile(twice)).toThrow(/appears twice/);
  });
});

describe('notify policies', () => {
  const HOOK = 'https://hooks.slack.example/services/T1/B1/HookSecretPath';
  const notify = { id: 'oncall', target: 'notify', endpoint: { url: HOOK }, match: { minSeverity: 'high' } };

  it('need no signing secret, take a batching window, and match alerts as revoke policies do', () => {
    const p = parsePolicy(notify, 'file');
    expect(p).toMatchObject({ target: 'notify', endpoint: { secrets: [] } });
    expect(parsePolicy({ ...notify, batchMs: 3000 }, 'file').batchMs).toBe(3000);
    expect(policyMatches(p, alert)).toBe(true);
    expect(policyMatches(p, { ...alert, severity: 'medium' })).toBe(false);
    expect(parsePolicy(base, 'file').target).toBe('revoke');
  });

  it('refuse signing secrets, a batching window on a revoke policy, and never echo a malformed URL', () => {
    expect(() => parsePolicy({ ...notify, endpoint: { url: HOOK, secrets: [SECRET] } }, 'api')).toThrow(/none for a notify policy/);
    expect(() => parsePolicy({ ...base, batchMs: 100 }, 'api')).toThrow(/batchMs/);
    let message = '';
    try {
      parsePolicy({ ...notify, endpoint: { url: 'ftp://hooks/HookSecretPath' } }, 'api');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/endpoint.url/);
    expect(message).not.toContain('HookSecretPath');
  });

  it('store their URL encrypted, show its origin and fingerprint, and keep it when sent back as shown', () => {
    const box = new SecretBox(Buffer.alloc(32, 7));
    const stored = sealSecrets(parsePolicy(notify, 'api'), box);
    expect(JSON.stringify(stored)).not.toContain('HookSecretPath');
    const shown = publicPolicy(stored);
    expect(shown.endpoint.url).toMatch(/^https:\/\/hooks\.slack\.example\/…[0-9a-f]{12}$/);
    const back = restoreSecrets(parsePolicy({ ...notify, endpoint: shown.endpoint }, 'api'), stored);
    expect(resolveUrl(sealSecrets(back, box), {}, box)).toBe(HOOK);
    expect(() => sealSecrets(parsePolicy(notify, 'api'), undefined)).toThrow(/INTENTWATCH_SECRETS_KEY/);
    expect(resolveUrl(parsePolicy({ ...notify, endpoint: { url: 'env:HOOK' } }, 'file'), { HOOK }, undefined)).toBe(HOOK);
    expect(() => resolveUrl(parsePolicy({ ...notify, endpoint: { url: 'env:HOOK' } }, 'file'), {}, undefined)).toThrow(/env:HOOK/);
  });
});

describe('the API schema and the policies file', () => {
  /** A policy with one number set, shaped as both the API and the file take it. */
  const withNumber = (name: keyof typeof POLICY_LIMITS, value: number): Record<string, unknown> => {
    const notify = { id: 'hook', target: 'notify', endpoint: { url: 'https://hooks.slack.example/services/T/B/x' } };
    if (name === 'timeoutMs') return { ...base, endpoint: { ...base.endpoint, timeoutMs: value } };
    if (name === 'batchMs') return { ...notify, batchMs: value };
    if (name === 'maxPerMinute') return { ...base, maxPerMinute: value };
    return { ...base, retry: { [name]: value } };
  };

  it('take and refuse the same numbers at every limit, saying the same range', () => {
    for (const name of Object.keys(POLICY_LIMITS) as (keyof typeof POLICY_LIMITS)[]) {
      const { min, max } = POLICY_LIMITS[name];
      for (const ok of [min, max]) {
        expect(NewPolicyInput.safeParse(withNumber(name, ok)).success, `${name} ${ok}`).toBe(true);
        expect(() => parsePolicy(withNumber(name, ok), 'file'), `${name} ${ok}`).not.toThrow();
      }
      for (const refused of [min - 1, max + 1, min + 0.5]) {
        const api = NewPolicyInput.safeParse(withNumber(name, refused));
        expect(api.success, `${name} ${refused}`).toBe(false);
        const said = api.error?.issues[0]?.message ?? '';
        expect(said).toMatch(/^a whole number( of ms)? from \d+ to \d+$/);
        expect(() => parsePolicy(withNumber(name, refused), 'file'), `${name} ${refused}`).toThrow(`expected ${said}, got ${refused}`);
      }
    }
  });

  it('take the same policy ids', () => {
    for (const id of ['broker', 'a', 'B-2_c', 'x'.repeat(64)]) {
      expect(NewPolicyInput.safeParse({ ...base, id }).success, id).toBe(true);
      expect(parsePolicy({ ...base, id }, 'file').id).toBe(id);
    }
    for (const id of ['', '-lead', 'has space', 'x'.repeat(65), 'notify:chat']) {
      expect(NewPolicyInput.safeParse({ ...base, id }).success, id).toBe(false);
      expect(() => parsePolicy({ ...base, id }, 'file'), id).toThrow(/^id: expected letters, digits/);
    }
  });
});
