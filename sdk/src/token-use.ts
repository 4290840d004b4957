import type { Attributes, Span } from '@opentelemetry/api';
import { ATTR } from './attributes.js';
import { tokenFingerprint } from './secrets.js';

/** One use of a token (docs/conventions.md §1.1): what was presented, to whom, to do what. */
export interface TokenUse {
  /** The raw credential presented; only its fingerprint leaves this function. */
  token?: string;
  /** The token's id when the caller already has it (a broker's id or a fingerprint). */
  tokenId?: string;
  /** The target service (`service.peer.name`), when the span does not already say it. */
  target?: string;
  /** The scope(s) the call exercised (`token.scope`). */
  scope?: string | readonly string[];
  /** The resource acted on (`token.resource`): a repo, bucket/key, table, path. */
  resource?: string;
  /** The tool the agent invoked (`gen_ai.tool.name`). */
  tool?: string;
}

/**
 * The span attributes of a token use, for clients the HTTP instrumentation does not see
 * (database drivers, gRPC, SDKs over sockets). The raw token is replaced by its fingerprint.
 *
 * @example
 * tracer.startActiveSpan('s3.GetObject', { attributes: tokenUseAttributes({ token, target: 's3', resource: 'reports/q3.csv' }) }, …)
 */
export function tokenUseAttributes(use: TokenUse): Attributes {
  const id = use.tokenId ?? (use.token ? tokenFingerprint(use.token) : undefined);
  if (!id) throw new TypeError('a token use needs token or tokenId');
  const attrs: Attributes = { [ATTR.tokenId]: id };
  if (use.target) attrs[ATTR.servicePeerName] = use.target;
  if (use.scope !== undefined) attrs[ATTR.tokenScope] = typeof use.scope === 'string' ? use.scope : [...use.scope];
  if (use.resource) attrs[ATTR.tokenResource] = use.resource;
  if (use.tool) attrs[ATTR.toolName] = use.tool;
  return attrs;
}

/** Sets the attributes of a token use on `span` (see {@link tokenUseAttributes}). */
export function recordTokenUse(span: Span, use: TokenUse): void {
  span.setAttributes(tokenUseAttributes(use));
}
