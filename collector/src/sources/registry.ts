import { cloudtrail } from './cloudtrail.js';
import { keycloakEvents } from './keycloak-events.js';
import { kubernetesAudit } from './kubernetes-audit.js';
import { oktaSystemLog } from './okta-system-log.js';
import type { SourceFormat, SourceRecord } from './types.js';
import { vaultAudit } from './vault-audit.js';

/** The formats `/v1/logs` maps, by `intentwatch.source` value (docs/conventions.md §1.5). */
export const SOURCE_FORMATS: readonly SourceFormat[] = [kubernetesAudit, cloudtrail, vaultAudit, keycloakEvents, oktaSystemLog];

export function formatById(id: string): SourceFormat | undefined {
  return SOURCE_FORMATS.find((f) => f.id === id);
}

/** The format whose shape the record has, if any. */
export function recogniseFormat(record: SourceRecord): SourceFormat | undefined {
  return SOURCE_FORMATS.find((f) => f.recognise(record));
}
