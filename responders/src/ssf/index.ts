export {
  CAEP_RISK_LEVEL_CHANGE,
  CAEP_SESSION_REVOKED_EVENT,
  POLL_METHOD,
  PUSH_METHOD,
  RISC_CREDENTIAL_COMPROMISE,
  SSF_EVENTS_SUPPORTED,
  SSF_STREAM_UPDATED,
  SSF_VERIFICATION,
  riskLevel,
  subjectKey,
  type SubjectId,
} from './ssf-events.js';
export { SSF_ALGORITHMS, SsfKeys, ssfUnavailable, type SsfAlgorithm } from './ssf-keys.js';
export { SSF_BREAKER_SOURCE, SetPusher } from './set-pusher.js';
export { SetEmitter } from './set-emitter.js';
export { SsfTransmitter, type PollRequest, type StreamInput, type SsfTransmitterOptions } from './ssf-transmitter.js';
export { MAX_STREAMS, MAX_SUBJECTS, STREAM_STATUSES, StreamStore, type StreamRecord, type StreamStatus } from './stream-store.js';
