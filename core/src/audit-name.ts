/**
 * Audit names written before API key names stopped carrying the key's first characters:
 * "key:" + up to six characters of the key + "…" + four hex digits of its SHA-256.
 * The quantifiers are bounded and not nested: linear in the text.
 */
const LEGACY_KEY_NAME = /key:[^…\s]{1,6}…([0-9a-f]{4})/g;

/**
 * An audit name (who made a triage change, a suppression, a policy, a revoke request) as it may
 * be shown to any key holder. Names of today's form pass unchanged; a name stored by an earlier
 * version, which showed the first characters of the key (`key:iw_ab1…3f0c`), shows as
 * `key:…3f0c` — still telling keys apart, no longer telling anything of the key.
 *
 * shownAuditName('analyst:key:iw_ab1…3f0c') === 'analyst:key:…3f0c'
 */
export function shownAuditName(stored: string): string {
  return stored.includes('…') ? stored.replace(LEGACY_KEY_NAME, 'key:…$1') : stored;
}
