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
 * The domain's refusals: what a caller asked for is malformed, absent, in conflict with what is
 * stored, or asked too often. Stores and services throw these; the API alone decides which HTTP
 * status each becomes (`api/src/errors.ts`). `code` is the stable machine-readable reason.
 */
export class InvalidInputError extends IntentwatchError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The thing asked for does not exist. */
export class NotFoundError extends IntentwatchError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'not_found', message, options);
  }
}

/** The request contradicts what is stored (already lifted, read-only, disabled, too many). */
export class ConflictError extends IntentwatchError {}

/** Asked too often; `retryAfterS` says when asking again can succeed. */
export class TooManyRequestsError extends IntentwatchError {
  readonly retryAfterS: number;

  constructor(code: string, message: string, retryAfterS: number) {
    super(code, message);
    this.retryAfterS = retryAfterS;
  }
}

/** A part this deployment did not enable (a key it was not given). */
export class UnavailableError extends IntentwatchError {}

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
