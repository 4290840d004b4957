export {
  FINGERPRINT_PREFIX,
  type RedactableValue,
  fingerprint,
  looksLikeSecret,
  namesCredential,
  redactKey,
  redactSecrets,
  redactText,
  tokenFingerprint,
} from './secrets.js';
