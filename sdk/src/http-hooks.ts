import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Span } from '@opentelemetry/api';
import { HttpInstrumentation, type HttpInstrumentationConfig } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation, type UndiciInstrumentationConfig, type UndiciRequest } from '@opentelemetry/instrumentation-undici';
import { ATTR } from './attributes.js';
import { tokenFingerprint } from './secrets.js';

/** Options shared by the HTTP hooks. */
export interface TokenHeaderOptions {
  /**
   * Request headers that carry the credential, first present wins (case-insensitive).
   * Default `['authorization']`; add e.g. `'x-api-key'` for services that take keys there.
   */
  tokenHeaders?: string[];
}

/** Headers that are never copied onto spans, whatever `headersToSpanAttributes` asks for. */
const NEVER_RECORDED = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key']);

const DEFAULT_TOKEN_HEADERS = ['authorization'];

/** The `token.id` for a header value (or list of values), or undefined when there is none. */
export function tokenIdFromHeader(value: string | string[] | number | undefined | null): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined || first === null) return undefined;
  const text = String(first).trim();
  return text ? tokenFingerprint(text) : undefined;
}

function withoutSecretHeaders(names: string[] | undefined, tokenHeaders: string[]): string[] | undefined {
  return names?.filter((n) => !NEVER_RECORDED.has(n.toLowerCase()) && !tokenHeaders.includes(n.toLowerCase()));
}

function lower(names: string[] | undefined): string[] {
  return (names ?? DEFAULT_TOKEN_HEADERS).map((n) => n.toLowerCase());
}

function isClientRequest(request: ClientRequest | IncomingMessage): request is ClientRequest {
  return typeof (request as ClientRequest).getHeader === 'function';
}

function setTokenIdFromClientRequest(span: Span, request: ClientRequest, tokenHeaders: string[]): void {
  for (const name of tokenHeaders) {
    const id = tokenIdFromHeader(request.getHeader(name));
    if (id) {
      span.setAttribute(ATTR.tokenId, id);
      return;
    }
  }
}

/**
 * Configuration for `@opentelemetry/instrumentation-http` that sets `token.id` on outgoing
 * request spans to the fingerprint of the request's `Authorization` header and never records the
 * header itself (credential headers are removed from `headersToSpanAttributes`). Hooks already in
 * `config` still run. Incoming requests are left alone: the caller's span is the token use.
 */
export function httpInstrumentationConfig(config: HttpInstrumentationConfig & TokenHeaderOptions = {}): HttpInstrumentationConfig {
  const { tokenHeaders: names, ...rest } = config;
  const tokenHeaders = lower(names);
  const headers = rest.headersToSpanAttributes;
  return {
    ...rest,
    ...(headers
      ? {
          headersToSpanAttributes: {
            ...(headers.client
              ? {
                  client: {
                    requestHeaders: withoutSecretHeaders(headers.client.requestHeaders, tokenHeaders) ?? [],
                    responseHeaders: withoutSecretHeaders(headers.client.responseHeaders, tokenHeaders) ?? [],
                  },
                }
              : {}),
            ...(headers.server
              ? {
                  server: {
                    requestHeaders: withoutSecretHeaders(headers.server.requestHeaders, tokenHeaders) ?? [],
                    responseHeaders: withoutSecretHeaders(headers.server.responseHeaders, tokenHeaders) ?? [],
                  },
                }
              : {}),
          },
        }
      : {}),
    requestHook(span, request) {
      if (isClientRequest(request)) {
        setTokenIdFromClientRequest(span, request, tokenHeaders);
        // Client spans carry only url.full; url.path is what the collector reads as the resource.
        span.setAttribute('url.path', request.path.split('?')[0] ?? request.path);
      }
      rest.requestHook?.(span, request);
    },
    // Headers may be set on the request after it was created; read them again once it is sent.
    applyCustomAttributesOnSpan(span, request, response) {
      if (isClientRequest(request)) setTokenIdFromClientRequest(span, request, tokenHeaders);
      rest.applyCustomAttributesOnSpan?.(span, request, response);
    },
  };
}

/** The values of header `name` in an undici request (v5 string form or v6+ array form). */
export function undiciHeader(request: Pick<UndiciRequest, 'headers'>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const { headers } = request;
  if (typeof headers === 'string') {
    for (const line of headers.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === wanted) return line.slice(colon + 1).trim();
    }
    return undefined;
  }
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (String(headers[i]).toLowerCase() === wanted) {
      const value = headers[i + 1];
      return Array.isArray(value) ? value[0] : value;
    }
  }
  return undefined;
}

/**
 * Configuration for `@opentelemetry/instrumentation-undici` (undici and Node's global `fetch`)
 * that sets `token.id` to the fingerprint of the `Authorization` header and never records the
 * header. Hooks already in `config` still run.
 */
export function undiciInstrumentationConfig(config: UndiciInstrumentationConfig & TokenHeaderOptions = {}): UndiciInstrumentationConfig {
  const { tokenHeaders: names, ...rest } = config;
  const tokenHeaders = lower(names);
  const headers = rest.headersToSpanAttributes;
  return {
    ...rest,
    ...(headers
      ? {
          headersToSpanAttributes: {
            requestHeaders: withoutSecretHeaders(headers.requestHeaders, tokenHeaders) ?? [],
            responseHeaders: withoutSecretHeaders(headers.responseHeaders, tokenHeaders) ?? [],
          },
        }
      : {}),
    requestHook(span, request) {
      for (const name of tokenHeaders) {
        const id = tokenIdFromHeader(undiciHeader(request, name));
        if (id) {
          span.setAttribute(ATTR.tokenId, id);
          break;
        }
      }
      rest.requestHook?.(span, request);
    },
  };
}

/** An `HttpInstrumentation` with {@link httpInstrumentationConfig}. */
export function createHttpInstrumentation(config: HttpInstrumentationConfig & TokenHeaderOptions = {}): HttpInstrumentation {
  return new HttpInstrumentation(httpInstrumentationConfig(config));
}

/** An `UndiciInstrumentation` (undici and global `fetch`) with {@link undiciInstrumentationConfig}. */
export function createUndiciInstrumentation(config: UndiciInstrumentationConfig & TokenHeaderOptions = {}): UndiciInstrumentation {
  return new UndiciInstrumentation(undiciInstrumentationConfig(config));
}
