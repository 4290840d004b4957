import type { Attributes } from '@opentelemetry/api';
import { ATTR } from './attributes.js';

/**
 * What travels with an MCP request and what the server reads from it: the `_meta` keys of the
 * task, the attributes of docs/conventions.md §1.6, and the claims a bearer token asserts. Shared by
 * the client hook and the server integration so that both sides name things the same way.
 */

/** `params._meta` key of the task on whose behalf a request is made (a string, ≤ 256 characters). */
export const MCP_TASK_META_KEY = 'intentwatch/task.id';

/** The W3C baggage member that carries the task, read from `_meta.baggage` or the HTTP `baggage` header. */
export const TASK_BAGGAGE_KEY = 'task.id';

/** Attribute names of the MCP semantic conventions that §1.6 uses. */
export const MCP_ATTR = {
  methodName: ATTR.mcpMethodName,
  resourceUri: ATTR.mcpResourceUri,
  sessionId: ATTR.mcpSessionId,
  protocolVersion: ATTR.mcpProtocolVersion,
  operationName: 'gen_ai.operation.name',
  promptName: 'gen_ai.prompt.name',
  requestId: 'jsonrpc.request.id',
  errorType: 'error.type',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  toolArguments: 'gen_ai.tool.call.arguments',
} as const;

/** Longest task id taken from a request; a longer one is ignored (senders may be hostile). */
export const MAX_TASK_ID_LENGTH = 256;
/** Longest bearer token whose claims are decoded; longer tokens are fingerprinted only. */
const MAX_DECODED_TOKEN_LENGTH = 16_384;
/** Longest baggage text read (the W3C limit is 8192 bytes). */
const MAX_BAGGAGE_LENGTH = 8192;
/** Longest identity or scope value kept from a claim. */
const MAX_CLAIM_LENGTH = 256;
/** Most scopes kept from a token. */
const MAX_SCOPES = 64;
/** Longest method name or request id recorded (MCP's are short; a sender may send megabytes). */
const MAX_METHOD_LENGTH = 128;

/** A JSON-RPC request as it crosses a transport (only the fields read here). */
export interface RpcRequestLike {
  method: string;
  id: string | number;
  params?: Record<string, unknown>;
}

export function isRpcRequest(message: unknown): message is RpcRequestLike {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as Record<string, unknown>;
  return typeof m.method === 'string' && (typeof m.id === 'string' || typeof m.id === 'number');
}

/** The `id` of a JSON-RPC response (result or error), or undefined for anything else. */
export function responseId(message: unknown): string | number | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as Record<string, unknown>;
  if (typeof m.method === 'string' || !('result' in m || 'error' in m)) return undefined;
  return typeof m.id === 'string' || typeof m.id === 'number' ? m.id : undefined;
}

/**
 * How a response ended, for `error.type`: the JSON-RPC error code, `tool_error` for a tool
 * result with `isError`, or undefined for success.
 */
export function responseErrorType(message: unknown): string | undefined {
  const m = message as { error?: { code?: unknown }; result?: { isError?: unknown } };
  if (m.error) return typeof m.error.code === 'number' ? String(m.error.code) : '_OTHER';
  if (m.result?.isError === true) return 'tool_error';
  return undefined;
}

/** The target of an MCP method for the span name and attributes: tool, prompt or resource. */
export function mcpMethodAttributes(request: RpcRequestLike): { attributes: Attributes; target: string } {
  const attributes: Attributes = {
    [MCP_ATTR.methodName]: request.method.slice(0, MAX_METHOD_LENGTH),
    [MCP_ATTR.requestId]: String(request.id).slice(0, MAX_METHOD_LENGTH),
  };
  const params = request.params ?? {};
  const text = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v.slice(0, 1024) : undefined);
  let target = '';
  if (request.method === 'tools/call') {
    const name = text(params.name);
    attributes[MCP_ATTR.operationName] = 'execute_tool';
    if (name) {
      attributes[ATTR.toolName] = name;
      target = name;
    }
  } else if (request.method === 'prompts/get') {
    const name = text(params.name);
    if (name) {
      attributes[MCP_ATTR.promptName] = name;
      target = name;
    }
  } else if (request.method.startsWith('resources/')) {
    const uri = text(params.uri);
    if (uri) {
      attributes[MCP_ATTR.resourceUri] = uri;
      target = uri;
    }
  }
  return { attributes, target };
}

/** The span name of the MCP semantic conventions: `{method} {target}`, or the method alone. */
export function mcpSpanName(method: string, target: string): string {
  const m = method.slice(0, MAX_METHOD_LENGTH);
  return target ? `${m} ${target}` : m;
}

/** `params._meta` of a request, when it is an object. */
export function metaOf(request: RpcRequestLike): Record<string, unknown> | undefined {
  const meta = request.params?._meta;
  return typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? (meta as Record<string, unknown>) : undefined;
}

/**
 * The task a request names: `_meta["intentwatch/task.id"]`, else the `task.id` member of W3C
 * baggage in `_meta.baggage`, else in the HTTP `baggage` header. Undefined when none is given or
 * it is longer than {@link MAX_TASK_ID_LENGTH}.
 */
export function taskIdOf(meta: Record<string, unknown> | undefined, baggageHeader: string | undefined): string | undefined {
  const direct = meta?.[MCP_TASK_META_KEY];
  if (typeof direct === 'string') return usableTaskId(direct);
  const fromMeta = typeof meta?.baggage === 'string' ? baggageMember(meta.baggage, TASK_BAGGAGE_KEY) : undefined;
  if (fromMeta !== undefined) return usableTaskId(fromMeta);
  const fromHeader = baggageHeader ? baggageMember(baggageHeader, TASK_BAGGAGE_KEY) : undefined;
  return fromHeader === undefined ? undefined : usableTaskId(fromHeader);
}

function usableTaskId(value: string): string | undefined {
  const id = value.trim();
  return id.length > 0 && id.length <= MAX_TASK_ID_LENGTH ? id : undefined;
}

/** The value of one member of a W3C baggage string (percent-decoded), or undefined. */
export function baggageMember(baggage: string, key: string): string | undefined {
  if (baggage.length > MAX_BAGGAGE_LENGTH) return undefined;
  for (const member of baggage.split(',')) {
    const eq = member.indexOf('=');
    if (eq < 0 || member.slice(0, eq).trim() !== key) continue;
    const raw =
      member
        .slice(eq + 1)
        .split(';')[0]
        ?.trim() ?? '';
    try {
      return decodeURIComponent(raw);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The credential of an `Authorization` header value (`Bearer x` → `x`), or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  const space = value.indexOf(' ');
  if (space > 0 && value.slice(0, space).toLowerCase() === 'bearer') return value.slice(space + 1).trim() || undefined;
  return value;
}

/** What a bearer token says about itself: claims read from a JWT payload, never verified. */
export interface TokenClaims {
  /** The current actor of RFC 8693 (`act.sub`). */
  actor?: string;
  sub?: string;
  clientId?: string;
  /** `scope` (space-separated) or `scp` (array or space-separated). */
  scopes?: string[];
}

/**
 * The claims of a JWT's payload, decoded and NOT verified: who the token names and what it
 * asserts. Verifying the token is the MCP server's job (its auth middleware); these claims only
 * say what was presented. An opaque token, a malformed JWT or one longer than 16 KiB has none.
 */
export function unverifiedClaims(token: string): TokenClaims {
  if (token.length > MAX_DECODED_TOKEN_LENGTH) return {};
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return {};
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return {};
  }
  if (typeof payload !== 'object' || payload === null) return {};
  const p = payload as Record<string, unknown>;
  const claims: TokenClaims = {};
  const act = p.act;
  const actor = typeof act === 'object' && act !== null ? claimText((act as Record<string, unknown>).sub) : undefined;
  if (actor) claims.actor = actor;
  const sub = claimText(p.sub);
  if (sub) claims.sub = sub;
  const clientId = claimText(p.client_id);
  if (clientId) claims.clientId = clientId;
  const scopes = scopeList(p.scope) ?? scopeList(p.scp);
  if (scopes) claims.scopes = scopes;
  return claims;
}

function claimText(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_CLAIM_LENGTH ? v : undefined;
}

function scopeList(v: unknown): string[] | undefined {
  const items = typeof v === 'string' ? v.split(' ') : Array.isArray(v) ? v : undefined;
  if (!items) return undefined;
  const out = items.slice(0, MAX_SCOPES).filter((s): s is string => typeof s === 'string' && s.length > 0 && s.length <= MAX_CLAIM_LENGTH);
  return out.length > 0 ? out : undefined;
}
