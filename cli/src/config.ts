// The settings modules alone (not the workspaces' entry points): the CLI reads the configuration
// before it starts telemetry, and the roles' modules are loaded after it.
import { apiSettings } from '@intentwatch/api/settings';
import { collectorSettings } from '@intentwatch/collector/settings';
import { coreSettings, composeSettings } from '@intentwatch/core';
import { detectorSettings } from '@intentwatch/detectors/settings';
import { responderSettings } from '@intentwatch/responders/settings';

/**
 * The configuration every role loads: the core settings and each workspace's own
 * (collector/, detectors/, api/, responders/ `src/settings.ts`), read from the environment as one.
 */
export const configuration = composeSettings(coreSettings, collectorSettings, detectorSettings, apiSettings, responderSettings);

/** Every variable the configuration reads, with its validation and default (the README's table is held to it by a test). */
export const configSchema = configuration.schema;

/**
 * Reads the configuration from `env` (default `process.env`) once, validates it and returns a
 * frozen object. A `.env` file in the working directory is read first when present (values
 * already in the environment win). Throws a ConfigError naming every bad variable and the form
 * it expects, secrets hidden.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: { dotenv?: boolean } = {}) {
  return configuration.load(env, options);
}

export type Config = ReturnType<typeof loadConfig>;

/** The configuration as nobody set it. */
export const DEFAULT_CONFIG: Readonly<Config> = loadConfig({}, { dotenv: false });
