import { type CoreSettings, type SettingsOf, bool, defineSettings, port, positiveInt } from '@intentwatch/core';
import { z } from 'zod';

/** The detectors' settings: how often they run, what they wait for, and the tuning of the rules that have any. */
export const detectorVariables = z.object({
  /** How often every detector runs. @default 1000 */
  DETECT_INTERVAL_MS: positiveInt(1000, 50),
  /** `detectors` role: port of its health and metrics server (the other roles serve these on their own port). @default 8081 */
  HEALTH_PORT: port(8081),
  /** How long a use may wait for the lifecycle event that explains it. @default 30000 */
  INTENTWATCH_GRACE_MS: positiveInt(30_000, 0),
  /** Tolerance for clocks that disagree when comparing use time with expiry. @default 30000 */
  INTENTWATCH_CLOCK_SKEW_MS: positiveInt(30_000, 0),
  /** How far before their watermark detectors re-read, for rows committed just after a run. @default 5000 */
  INTENTWATCH_DETECT_LAG_MS: positiveInt(5000, 0),
  /** Session limit (`token.max_session_s`) for sessions whose grants name none. @default 86400 */
  INTENTWATCH_DEFAULT_MAX_SESSION_S: positiveInt(86_400),
  /** Judge the uses and lifecycle events of each committed batch at once, when the collector runs in the same process. @default true */
  INTENTWATCH_LIVE_DETECTION: bool(true),
  /** Live detection: tokens (and as many tasks) whose grant state is kept in memory, and a tenth as many usage series. @default 100000 */
  INTENTWATCH_LIVE_CACHE_TOKENS: positiveInt(100_000, 100),
  /** Live detection: seconds a token's or task's state is trusted before it is read again (events ingested by other processes). @default 60 */
  INTENTWATCH_LIVE_CACHE_TTL_S: positiveInt(60, 1),
  /** `usage_anomaly`: bucket size in seconds. @default 60 */
  INTENTWATCH_ANOMALY_BUCKET_S: positiveInt(60, 1),
  /** `usage_anomaly`: buckets of trailing baseline. @default 60 */
  INTENTWATCH_ANOMALY_BASELINE_BUCKETS: positiveInt(60, 3),
  /** `usage_anomaly`: buckets of history before it judges. @default 10 */
  INTENTWATCH_ANOMALY_WARMUP_BUCKETS: positiveInt(10, 1),
  /** `usage_anomaly`: modified z-score above which a bucket is anomalous. @default 3.5 */
  INTENTWATCH_ANOMALY_THRESHOLD: z.coerce.number({ error: 'a number' }).positive('a number above 0').default(3.5),
});

export const detectorSettings = defineSettings(detectorVariables, (e, _core: CoreSettings) => ({
  detectIntervalMs: e.DETECT_INTERVAL_MS,
  /** `detectors` role: port of its health and metrics server (the other roles serve these on their own port). */
  healthPort: e.HEALTH_PORT,
  /** How long a use may wait for the lifecycle event that explains it. */
  graceMs: e.INTENTWATCH_GRACE_MS,
  /** Tolerance for clocks that disagree when comparing use time with expiry. */
  clockSkewMs: e.INTENTWATCH_CLOCK_SKEW_MS,
  /**
   * Detectors re-read this much before their watermark, so that rows stamped just before a run
   * but committed just after it are never skipped (re-reading is harmless: detection is idempotent).
   */
  detectLagMs: e.INTENTWATCH_DETECT_LAG_MS,
  /** Session limit (`token.max_session_s`) for sessions whose grants name none. */
  defaultMaxSessionS: e.INTENTWATCH_DEFAULT_MAX_SESSION_S,
  /**
   * Live detection: each batch the collector commits in this process is screened against grant
   * state kept in memory, and the detectors run at once on what it makes suspect; the scheduled
   * runs stay, as reconciliation (docs/design.md, "Live detection").
   */
  live: {
    enabled: e.INTENTWATCH_LIVE_DETECTION,
    cacheTokens: e.INTENTWATCH_LIVE_CACHE_TOKENS,
    cacheTtlMs: e.INTENTWATCH_LIVE_CACHE_TTL_S * 1000,
  },
  /** `usage_anomaly`: bucket size, trailing baseline and warm-up (in buckets), robust-z threshold. */
  anomaly: {
    bucketS: e.INTENTWATCH_ANOMALY_BUCKET_S,
    baselineBuckets: e.INTENTWATCH_ANOMALY_BASELINE_BUCKETS,
    warmupBuckets: e.INTENTWATCH_ANOMALY_WARMUP_BUCKETS,
    threshold: e.INTENTWATCH_ANOMALY_THRESHOLD,
  },
}));

/** The detectors' part of the configuration (see {@link detectorVariables}). */
export type DetectorSettings = SettingsOf<typeof detectorSettings>;

/** The detectors' settings as nobody set them. */
export const DEFAULT_DETECTOR_SETTINGS: Readonly<DetectorSettings> = Object.freeze(
  detectorSettings.resolve(detectorVariables.parse({}), {} as CoreSettings),
);
