export {
  FINGERPRINT_PREFIX,
  type RedactableValue,
  fingerprint,
  looksLikeSecret,
  namesCredential,
  redactSecrets,
  redactText,
  tokenFingerprint,
} from './secrets.js';
