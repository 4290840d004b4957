import { type Attributes, SpanKind, type Tracer } from '@opentelemetry/api';
import { tokenUseAttributes } from '@intentwatch/sdk';
import type { Call } from './organisation.js';

/** One simulated agent: the spans of its tool calls, exported under its own `service.name`. */
export class DemoAgent {
  readonly agentId: string;
  readonly #tracer: Tracer;

  constructor(agentId: string, tracer: Tracer) {
    this.agentId = agentId;
    this.#tracer = tracer;
  }

  /**
   * Records one call presenting `token` at time `at` (epoch ms). `call.tool` names the span and
   * the tool; fields left out are left off the span. Runs in the caller's context, so the task
   * of `withTask` is put on the span.
   */
  use(token: string, call: Partial<Call> & { name?: string }, at: number, extra: Attributes = {}): void {
    const attributes: Attributes = {
      ...tokenUseAttributes({
        token,
        ...(call.target ? { target: call.target } : {}),
        ...(call.scope ? { scope: call.scope } : {}),
        ...(call.resource ? { resource: fill(call.resource) } : {}),
        ...(call.tool ? { tool: call.tool } : {}),
      }),
      ...(call.tool ? { 'gen_ai.operation.name': 'execute_tool' } : {}),
      ...extra,
    };
    const span = this.#tracer.startSpan(call.name ?? call.tool ?? 'call', { kind: SpanKind.CLIENT, startTime: at, attributes });
    span.end(at + 40 + Math.floor(Math.random() * 160));
  }
}

/** A resource pattern with `{n}` replaced by a plausible number. */
function fill(resource: string): string {
  return resource.replace('{n}', String(100 + Math.floor(Math.random() * 60)));
}
