import { existsSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * The pieces every workspace builds its settings from. A workspace declares the variables it
 * reads as one zod object (each variable with its validation and default, stated once) and how
 * they become its part of the configuration; `cli` composes the parts (cli/src/config.ts).
 */

export const port = (fallback: number) =>
  z.coerce
    .number({ error: 'a port number' })
    .int('a whole number')
    .min(0, 'a port between 0 and 65535')
    .max(65535, 'a port between 0 and 65535')
    .default(fallback);

export const positiveInt = (fallback: number, min = 1) =>
  z.coerce.number({ error: 'a whole number' }).int('a whole number').min(min, `at least ${min}`).default(fallback);

export const optionalString = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

export const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1' || v === 'yes'));

export const url = (protocols: string[]) =>
  optionalString.refine(
    (v) => {
      if (v === undefined) return true;
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

/** Comma-separated keys of at least 16 characters each; unset: undefined. */
export const keyList = optionalString.transform((v, ctx): string[] | undefined => {
  if (v === undefined) return undefined;
  const keys = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (keys.some((k) => k.length < 16)) {
    ctx.addIssue({ code: 'custom', message: 'comma-separated keys of at least 16 characters each' });
    return z.NEVER;
  }
  return keys;
});

/**
 * Key material that stays out of logs and JSON: it prints as `(hidden)`, and `bytes()` is the
 * only way to read it.
 */
export class SecretKey {
  readonly #bytes: Buffer;

  constructor(bytes: Uint8Array) {
    this.#bytes = Buffer.from(bytes);
  }

  bytes(): Buffer {
    return Buffer.from(this.#bytes);
  }

  toJSON(): string {
    return '(hidden)';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'SecretKey (hidden)';
  }
}

/**
 * One workspace's settings: `variables`, the environment variables it reads (keyed by name), and
 * `resolve`, which turns their parsed values into its part of the configuration. `resolve` also
 * gets the core settings, which every part may build on; it throws a {@link ConfigError} for a
 * combination of variables that cannot work.
 */
export interface Settings<S extends z.ZodRawShape, T extends object, C extends object = object> {
  readonly variables: z.ZodObject<S>;
  readonly resolve: (env: z.output<z.ZodObject<S>>, core: C) => T;
}

// biome-ignore lint/suspicious/noExplicitAny: any part, whatever its variables and output
type AnySettings = Settings<any, any, any>;

/** The part of the configuration a {@link Settings} yields. */
export type SettingsOf<P> = P extends { resolve: (...args: never[]) => infer T } ? T : never;

type Intersect<U> = (U extends unknown ? (k: U) => void : never) extends (k: infer I) => void ? I : never;

export function defineSettings<S extends z.ZodRawShape, T extends object, C extends object = object>(
  variables: z.ZodObject<S>,
  resolve: (env: z.output<z.ZodObject<S>>, core: C) => T,
): Settings<S, T, C> {
  return { variables, resolve };
}

/** Several parts read as one: the first is the core part the others build on. */
export interface ComposedSettings<T> {
  /** Every variable the parts read, with its validation and default. */
  readonly schema: z.ZodObject<z.ZodRawShape>;
  /**
   * Reads the configuration from `env` (default `process.env`) once, validates it and returns a
   * frozen object. A `.env` file in the working directory is read first when present (values
   * already in the environment win). Throws a {@link ConfigError} naming every bad variable and
   * the form it expects, secrets hidden.
   */
  load(env?: NodeJS.ProcessEnv, options?: { dotenv?: boolean }): Readonly<T>;
}

export function composeSettings<Core extends AnySettings, Parts extends AnySettings[]>(
  core: Core,
  ...parts: Parts
): ComposedSettings<SettingsOf<Core> & Intersect<SettingsOf<Parts[number]>>> {
  const all = [core, ...parts];
  const shape: Record<string, z.ZodType> = {};
  for (const part of all) {
    for (const [name, field] of Object.entries(part.variables.shape)) {
      if (name in shape) throw new Error(`${name} is declared by two settings parts`);
      shape[name] = field as z.ZodType;
    }
  }
  const schema = z.object(shape);
  return {
    schema,
    load(env = process.env, options = {}) {
      if (options.dotenv !== false && env === process.env && existsSync('.env')) {
        process.loadEnvFile('.env');
      }
      const parsed = schema.safeParse(env);
      if (!parsed.success) throw new ConfigError(`invalid configuration: ${describeIssues(parsed.error, env)}`);
      const values = parsed.data as Record<string, unknown>;
      const coreSettings = core.resolve(values, {}) as object;
      const config = { ...coreSettings };
      for (const part of parts) Object.assign(config, part.resolve(values, coreSettings));
      return Object.freeze(config) as never;
    },
  };
}

/** `VAR: expected …, got …` for each problem, with the values of secrets hidden. */
function describeIssues(error: z.ZodError, env: NodeJS.ProcessEnv): string {
  return error.issues
    .map((i) => {
      const variable = String(i.path[0] ?? '?');
      const got = env[variable];
      const shown =
        variable.includes('KEY') || variable.includes('PASSWORD') || variable.includes('SECRET') || variable.endsWith('_WEBHOOK')
          ? '(hidden)'
          : JSON.stringify(got);
      return `${variable}: expected ${i.message.replace(/^Invalid input: expected /, '')}, got ${shown}`;
    })
    .join('; ');
}
