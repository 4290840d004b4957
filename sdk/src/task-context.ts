import { type Context, context, createContextKey } from '@opentelemetry/api';

/** The task an agent is working on (docs/conventions.md §1.3), as carried in the OpenTelemetry context. */
export interface TaskInfo {
  /** `task.id`: the orchestrator's id of the task. */
  id: string;
  /** `gen_ai.agent.id` of the agent doing the task; put on every span inside when given. */
  agentId?: string;
  /** What the task is for, as the orchestrator announced it (kept for the agent's own checks). */
  intent?: string;
  /** The tools the plan allows (kept for the agent's own checks). */
  tools?: readonly string[];
}

const TASK_KEY = createContextKey('intentwatch.task');

/**
 * Runs `fn` on behalf of `task`: every span started inside — directly, after `await`, in timers,
 * promise chains and event callbacks — carries `task.id` (and `gen_ai.agent.id` when given),
 * once a {@link TaskContextSpanProcessor} is installed (`startAgentTelemetry` installs one).
 * Needs a context manager that follows async work (NodeSDK's, or `ensureContextManager()`).
 * Returns what `fn` returns.
 *
 * @example
 * await withTask({ id: 'T-42', agentId: 'triage-bot', intent: 'label new issues' }, () => triage());
 */
export function withTask<T>(task: TaskInfo, fn: () => T): T {
  if (!task.id) throw new TypeError('withTask requires a task id');
  const info: TaskInfo = Object.freeze({ ...task, ...(task.tools ? { tools: Object.freeze([...task.tools]) } : {}) });
  return context.with(context.active().setValue(TASK_KEY, info), fn);
}

/** The task of `ctx` (by default the active context), or undefined outside `withTask`. */
export function currentTask(ctx: Context = context.active()): TaskInfo | undefined {
  return ctx.getValue(TASK_KEY) as TaskInfo | undefined;
}
