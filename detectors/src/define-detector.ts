import type { Lineage, SpanRow, Store, TokenEventRow } from '@intentwatch/core';
import type { DetectorSettings } from './settings.js';
import type { Finding, Severity } from '@intentwatch/alerts';
import type { IntentResolver } from './intent/intent-resolver.js';
import type { EventFacts, UseFacts } from './live/screen.js';

/** What detectors read from the configuration. */
export type DetectorConfig = Pick<DetectorSettings, 'graceMs' | 'clockSkewMs' | 'detectLagMs' | 'defaultMaxSessionS' | 'anomaly'>;

/**
 * The slice of data one run examines. Uses ingested in (since, until] are new; when
 * `recheck` is set, earlier uses (back to `recheckSince`) of `recheckTokens`/`recheckTasks` —
 * whose lifecycle events arrived in the window — are examined again. A live run (`only` set)
 * examines what one committed batch made suspect: the window is the batch's, and only the uses
 * of `only.tokens` (usage: of `only.agents` and `only.tokens`) are read.
 */
export interface RunWindow {
  sinceMs: number;
  untilMs: number;
  recheckSinceMs: number;
  recheck: boolean;
  recheckTokens: string[];
  recheckTasks: string[];
  only?: LiveScope;
}

/** What a live run examines: the tokens (and, for usage, agents) a committed batch made suspect. */
export interface LiveScope {
  tokens: string[];
  agents: string[];
}

export interface DetectContext {
  store: Store;
  config: DetectorConfig;
  /** The run's clock (epoch ms). */
  now: number;
  window: RunWindow;
  /** The window as query parameters: since, until, recheckSince, recheckTokens, recheckTasks, onlyTokens, onlyAgents, skewMs, graceMs. */
  params: Record<string, unknown>;
  /** Task lookups for this run. */
  intent: IntentResolver;
  /** Lineage lookups for this run (grants, sessions, delegation, revocations); cached for the run only. */
  lineage: Lineage;
}

/** A query result row, as JSONEachRow gives it (64-bit integers as strings, times as RFC 3339). */
// biome-ignore lint/suspicious/noExplicitAny: rows are shaped by each detector's own SQL
export type Row = Record<string, any>;

interface DetectorMeta {
  /** Stable id (docs/conventions.md §2). */
  id: string;
  title: string;
  /** Default severity (docs/conventions.md §2); a finding may carry a higher one, as the table says. */
  severity: Severity;
  description: string;
  /** Framework identifiers, each with its scheme prefix: `OWASP-ASI03`, `OWASP-NHI9`, `MITRE-ATLAS-AML.T0091.000`, `MITRE-ATTACK-T1550.001`. */
  frameworks: readonly string[];
  /** Known benign causes an analyst should rule out. */
  falsePositives: readonly string[];
  /** What an analyst should check, in order. */
  runbook: readonly string[];
  /** The settings that change what fires. */
  tuning: readonly string[];
  /**
   * How long a use must wait before this detector judges it (default 0). `ungoverned_token`
   * waits for the grace window, so that a grant arriving late still explains the use.
   */
  settleMs?: (config: DetectorConfig) => number;
  /** Re-examine earlier uses of tokens/tasks whose lifecycle events arrived in the window (default true). */
  recheck?: boolean;
  /**
   * Live detection's judgement of one committed use the screen made suspect, from the state of
   * its grant in memory: exactly the findings the detector's SQL gives for that use (the same
   * row handed to the same row → finding code; a test holds the two to equal findings on every
   * scenario). Without it, live detection runs the detector's SQL on the suspects.
   */
  judgeUse?: (use: SpanRow, facts: UseFacts, config: DetectorConfig) => Finding[];
  /** The same for a committed lifecycle event (a refresh, an exchange, a renewal) the screen made suspect. */
  judgeEvent?: (event: TokenEventRow, facts: EventFacts, config: DetectorConfig) => Finding[];
}

interface SqlDetector extends DetectorMeta {
  /** The SQL that finds violations in the window; several statements' rows are concatenated. */
  query: (ctx: DetectContext) => string | string[];
  /** A violation row → the finding(s) it is evidence of (none to drop it). */
  toAlert: (row: Row, ctx: DetectContext) => Finding | Finding[] | null | Promise<Finding | Finding[] | null>;
}

interface CodeDetector extends DetectorMeta {
  /** Finds violations in the window (for detectors that score in JavaScript). */
  detect: (ctx: DetectContext) => Promise<Finding[]>;
}

export type DetectorDefinition = SqlDetector | CodeDetector;

/** A detector as the runner uses it. */
export interface Detector extends DetectorMeta {
  settleMs: (config: DetectorConfig) => number;
  recheck: boolean;
  detect: (ctx: DetectContext) => Promise<Finding[]>;
}

/**
 * Declares a detector: its metadata next to its logic (SQL + row → alert, or a `detect`
 * function). Checks the declaration once, at import.
 */
export function defineDetector(definition: DetectorDefinition): Detector {
  if (!/^[a-z][a-z0-9_]*$/.test(definition.id)) throw new Error(`detector id must be snake_case (got "${definition.id}")`);
  if (definition.frameworks.length === 0) throw new Error(`detector ${definition.id} must name its framework identifiers`);
  const detect =
    'detect' in definition
      ? definition.detect
      : async (ctx: DetectContext) => {
          const statements = [definition.query(ctx)].flat();
          const findings: Finding[] = [];
          for (const sql of statements) {
            const rows = await ctx.store.query<Row>(sql, ctx.params);
            for (const row of rows) {
              const out = await definition.toAlert(row, ctx);
              if (out) findings.push(...[out].flat());
            }
          }
          return findings;
        };
  const { settleMs, recheck, ...meta } = definition;
  return {
    ...meta,
    settleMs: settleMs ?? (() => 0),
    recheck: recheck ?? true,
    detect,
  } as Detector;
}
