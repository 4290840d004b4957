export { ATTR, type AttributeName, TASK_EVENTS, TOKEN_EVENTS, type TaskEventKind, type TokenEventKind } from './attributes.js';
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
