export { AlertReader, type AlertSnapshot } from './alert-reader.js';
export { MAX_RETRY_AFTER_MS, backoffDelay, nextDelay, parseRetryAfter } from './backoff.js';
export { BullmqDeliveryQueue, type BullmqDeliveryQueueOptions } from './bullmq-delivery-queue.js';
export {
  DeliveryLog,
  REVOCATION_STATUSES,
  type AttemptStatus,
  type AttemptView,
  type DeadLetter,
  type RevocationState,
  type RevocationStatus,
  type RevocationView,
} from './delivery-log.js';
export {
  InProcessQueue,
  type DeliveryHandler,
  type DeliveryJob,
  type DeliveryQueue,
  type JobOutcome,
  type Revocation,
} from './delivery-queue.js';
export { EndpointGuard, EndpointRefusedError } from './endpoint-guard.js';
export { OCSF_VERSION, OcsfExporter, attackOf, toOcsf, type OcsfAttack, type OcsfDetectionFinding } from './ocsf.js';
export {
  CAEP_SESSION_REVOKED,
  REVOKE_EVENT_TYPE,
  buildBody,
  revokeReason,
  type RevokeRequestBody,
  type RevokeSection,
  type WebhookAlert,
} from './payload.js';
export {
  BODY_FORMATS,
  ENV_NOTIFY_POLICY_ID,
  POLICY_ID,
  POLICY_LIMITS,
  POLICY_TARGETS,
  REVOKE_MODES,
  demoPolicy,
  envNotifyPolicy,
  limitText,
  redactUrl,
  parsePolicy,
  policyMatches,
  publicPolicy,
  type BodyFormat,
  type Policy,
  type PolicyMatch,
  type PolicySource,
  type PolicyTarget,
  type RetrySettings,
  type RevokeMode,
} from './policy.js';
export { NewPolicyInput, PolicyInputFields, PolicyReplacementInput, PolicyTargetSchema, policyIdSchema } from './policy-schema.js';
export { POLICY_STATES, PolicyStore, readPolicyFile, type PolicyState, type PolicyStateName } from './policy-store.js';
export { MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from './rate-limiter.js';
export { BREAKER_SOURCE, Delivery, type DeliveryOptions } from './delivery.js';
export { PolicyService, type PolicyView } from './policy-service.js';
export { Responder, type ResponderOptions } from './responder.js';
export { Trigger, type RequestedRevocation, type TriggerOptions } from './trigger.js';
export { REVOKE_RELATIONS, RevokeTargets, type RevokeMember, type RevokeRelation, type RevokeTarget } from './revoke-targets.js';
export { signedHeaders, webhookId } from './signing.js';
export type { ChannelContext, ResponderChannel } from './channel.js';
export * from './ssf/index.js';
export { ChatNotifier, NOTIFY_POLICY_ID, chatMessage, type ChatNotifierOptions } from './chat-notifier.js';
export { responderSettings, responderVariables, type ResponderConfig, type ResponderSettings } from './settings.js';
