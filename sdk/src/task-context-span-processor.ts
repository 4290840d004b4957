import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR } from './attributes.js';
import { currentTask } from './task-context.js';

/**
 * Puts `task.id` and `gen_ai.agent.id` of the task in a span's parent context (see `withTask`) on
 * the span when it starts. Values the span was started with win, so a broker's lifecycle span
 * keeps naming its grantee. Export nothing itself: install it next to the exporting processor.
 */
export class TaskContextSpanProcessor implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    const task = currentTask(parentContext);
    if (!task) return;
    if (span.attributes[ATTR.taskId] === undefined) span.setAttribute(ATTR.taskId, task.id);
    if (task.agentId && span.attributes[ATTR.agentId] === undefined) span.setAttribute(ATTR.agentId, task.agentId);
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
