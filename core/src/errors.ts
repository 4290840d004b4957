import { redactUrlPasswords } from './redact-url.js';

/**
 * The few typed errors the project throws. Each carries a stable `code` that callers branch
 * on and an optional `cause`; messages say what was expected and what was received.
 */
export class IntentwatchError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A configuration value is missing or malformed. The message names the variable; the password of
 * any URL in it (a malformed `REDIS_URL` echoed back) is replaced by `***`.
 */
export class ConfigError extends IntentwatchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('config_invalid', redactUrlPasswords(message), options);
  }
}

/** The store refused or failed a query, insert or migration. */
export class StoreError extends IntentwatchError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'store_failed', message, options);
  }
}

/**
 * An error that maps to an HTTP answer: `status` is the response status, `code` and
 * `message` go into the `{ "error": { "code", "message" } }` body.
 */
export class HttpError extends IntentwatchError {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, options?: { cause?: unknown; headers?: Record<string, string> }) {
    super(code, message, options);
    this.status = status;
    this.headers = options?.headers ?? {};
  }
}
