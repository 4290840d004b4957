import { type CoreSettings, type SettingsOf, defineSettings, optionalString, positiveInt } from '@intentwatch/core';
import { z } from 'zod';

export const API_ROLES = ['viewer', 'analyst', 'admin'] as const;
export type ApiRole = (typeof API_ROLES)[number];

const apiKeys = optionalString.transform((v, ctx) => {
  if (v === undefined) return undefined;
  const specs: { role: ApiRole; key: string }[] = [];
  for (const pair of v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = pair.indexOf(':');
    const role = pair.slice(0, at) as ApiRole;
    const key = pair.slice(at + 1);
    if (at < 1 || !API_ROLES.includes(role) || key.length < 16) {
      ctx.addIssue({
        code: 'custom',
        message: `comma-separated role:key pairs with a role of ${API_ROLES.join(', ')} and a key of at least 16 characters (got an entry starting "${pair.slice(0, Math.max(at, 0))}")`,
      });
      return z.NEVER;
    }
    specs.push({ role, key });
  }
  return specs;
});

/** The API's settings (its port and public URL are core settings: responders derive the API's address from them). */
export const apiVariables = z.object({
  /** `role:key` pairs; unset: one admin key is generated into the data dir. @default unset */
  INTENTWATCH_API_KEYS: apiKeys,
  /** API requests per minute per key (and failed key checks per minute per client address). @default 600 */
  INTENTWATCH_API_RATE_LIMIT: positiveInt(600),
});

export const apiSettings = defineSettings(apiVariables, (e, _core: CoreSettings) => ({
  ...(e.INTENTWATCH_API_KEYS ? { apiKeys: e.INTENTWATCH_API_KEYS } : {}),
  /** API requests per minute per key (and failed key checks per minute per client address). */
  apiRateLimit: e.INTENTWATCH_API_RATE_LIMIT,
}));

/** The API's part of the configuration (see {@link apiVariables}). */
export type ApiSettings = SettingsOf<typeof apiSettings>;

/** One `role:key` pair of `INTENTWATCH_API_KEYS`. */
export type ApiKeySpec = NonNullable<ApiSettings['apiKeys']>[number];

/** The API's settings as nobody set them. */
export const DEFAULT_API_SETTINGS: Readonly<ApiSettings> = Object.freeze(apiSettings.resolve(apiVariables.parse({}), {} as CoreSettings));
