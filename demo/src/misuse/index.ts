import { crossServiceReuse } from './cross-service-reuse.js';
import type { Episode } from './episode.js';
import { refreshExtendedSession } from './refresh-extended-session.js';
import { revocationPropagation } from './revocation-propagation.js';
import { scopeCreep } from './scope-creep.js';
import { staleTokenUse } from './stale-token-use.js';
import { ungovernedToken } from './ungoverned-token.js';
import { usageAnomaly } from './usage-anomaly.js';

export type { Episode, EpisodeContext } from './episode.js';

/** Every misuse episode: one per detector of docs/conventions.md §2, and a revocation that must propagate down a delegation. */
export const EPISODES: readonly Episode[] = [
  crossServiceReuse,
  refreshExtendedSession,
  scopeCreep,
  staleTokenUse,
  revocationPropagation,
  ungovernedToken,
  usageAnomaly,
];
