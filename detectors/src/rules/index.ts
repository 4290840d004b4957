import type { Detector } from '../define-detector.js';
import { crossServiceReuse } from './cross_service_reuse/detector.js';
import { refreshExtendedSession } from './refresh_extended_session/detector.js';
import { scopeCreep } from './scope_creep/detector.js';
import { staleTokenUse } from './stale_token_use/detector.js';
import { ungovernedToken } from './ungoverned_token/detector.js';
import { usageAnomaly } from './usage_anomaly/detector.js';

/** Every detector, one line each (docs/conventions.md §2). */
export const DETECTORS: readonly Detector[] = [
  crossServiceReuse,
  refreshExtendedSession,
  scopeCreep,
  staleTokenUse,
  ungovernedToken,
  usageAnomaly,
];
