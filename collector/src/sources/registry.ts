import { cloudtrail } from './cloudtrail.js';
import { kubernetesAudit } from './kubernetes-audit.js';
import type { SourceFormat, SourceRecord } from './types.js';

/** The formats `/v1/logs` maps, by `intentwatch.source` value. */
export const SOURCE_FORMATS: readonly SourceFormat[] = [kubernetesAudit, cloudtrail];

/** Formats of docs/conventions.md §1.5 that are named but not mapped yet: their records are reported as such. */
export const PLANNED_FORMATS: readonly string[] = ['vault-audit', 'keycloak-events', 'okta-system-log'];

export function formatById(id: string): SourceFormat | undefined {
  return SOURCE_FORMATS.find((f) => f.id === id);
}

/** The format whose shape the record has, if any. */
export function recogniseFormat(record: SourceRecord): SourceFormat | undefined {
  return SOURCE_FORMATS.find((f) => f.recognise(record));
}
