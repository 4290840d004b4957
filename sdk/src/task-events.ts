import { type Attributes, ROOT_CONTEXT, SpanKind, type Tracer } from '@opentelemetry/api';
import { ATTR, type TimeInput, rfc3339, toMillis } from './attributes.js';

/** A task as the orchestrator starts it (docs/conventions.md §1.3). */
export interface TaskStart {
  id: string;
  /** The agent that will do the task. */
  agentId: string;
  /** Free text: what the task is for. */
  intent?: string;
  /** The tools the plan allows. */
  tools?: readonly string[];
  deadline?: TimeInput;
  /** When the task started; default now. */
  time?: TimeInput;
}

export interface TaskEnd {
  agentId?: string;
  /** When the task ended; default now. */
  time?: TimeInput;
}

export type TaskOutcome = 'completed' | 'failed' | 'cancelled';

/**
 * Emits the task lifecycle spans of docs/conventions.md §1.3 (`task.event` = started, completed,
 * failed, cancelled) for an orchestrator written in Node. Events are root spans.
 *
 * @example
 * const tasks = new TaskEvents(trace.getTracer('orchestrator'));
 * tasks.started({ id: 'T-9', agentId: 'triage-bot', intent: 'label new issues', tools: ['github.add_label'] });
 * tasks.ended('T-9', 'completed');
 */
export class TaskEvents {
  readonly #tracer: Tracer;

  constructor(tracer: Tracer) {
    this.#tracer = tracer;
  }

  started(task: TaskStart): void {
    const attrs: Attributes = { [ATTR.agentId]: task.agentId };
    if (task.intent) attrs[ATTR.taskIntent] = task.intent;
    if (task.tools) attrs[ATTR.taskTools] = [...task.tools];
    if (task.deadline !== undefined) attrs[ATTR.taskDeadline] = rfc3339(task.deadline);
    this.#emit('started', task.id, attrs, task.time);
  }

  ended(id: string, outcome: TaskOutcome, end: TaskEnd = {}): void {
    this.#emit(outcome, id, end.agentId ? { [ATTR.agentId]: end.agentId } : {}, end.time);
  }

  #emit(event: string, taskId: string, attrs: Attributes, time: TimeInput | undefined): void {
    const at = toMillis(time ?? Date.now());
    const span = this.#tracer.startSpan(
      `task ${event}`,
      { kind: SpanKind.INTERNAL, startTime: at, attributes: { [ATTR.taskEvent]: event, [ATTR.taskId]: taskId, ...attrs } },
      ROOT_CONTEXT,
    );
    span.end(at);
  }
}
