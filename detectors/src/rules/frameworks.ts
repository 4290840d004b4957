/**
 * Framework identifiers carried by alerts (docs/conventions.md §2), one scheme per framework:
 * `OWASP-ASI<nn>` (OWASP Top 10 for Agentic Applications 2026), `OWASP-NHI<n>` (OWASP
 * Non-Human Identities Top 10 2025), `MITRE-ATLAS-<technique>` and `MITRE-ATTACK-<technique>`.
 */
export const FW = {
  asi02: 'OWASP-ASI02',
  asi03: 'OWASP-ASI03',
  asi10: 'OWASP-ASI10',
  nhi1: 'OWASP-NHI1',
  nhi2: 'OWASP-NHI2',
  nhi5: 'OWASP-NHI5',
  nhi7: 'OWASP-NHI7',
  nhi9: 'OWASP-NHI9',
  atlasValidAccounts: 'MITRE-ATLAS-AML.T0091.000',
  atlasExfilViaApi: 'MITRE-ATLAS-AML.T0053',
  atlasRawData: 'MITRE-ATLAS-AML.T0055',
  attackAppAccessToken: 'MITRE-ATTACK-T1550.001',
} as const;
