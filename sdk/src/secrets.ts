// Fingerprints and redaction come from the contract package that the collector uses too, so a
// token gets the same id in an agent and in the monitor.
export { FINGERPRINT_PREFIX, looksLikeSecret, namesCredential, redactKey, redactText, tokenFingerprint } from '@intentwatch/conventions';
