import { type TaskEvents, withTask } from '@intentwatch/sdk';
import type { DemoAgent } from './agent.js';
import type { DemoBroker, DemoToken } from './broker.js';
import type { Clock } from './clock.js';
import { MAX_SESSION_S, type Role, TASK_DEADLINE_MS, TOKEN_TTL_MS } from './organisation.js';

export interface WorkerDeps {
  broker: DemoBroker;
  tasks: TaskEvents;
  agent(agentId: string): DemoAgent;
  runId: string;
  environment: string;
}

/** `ms` ± 10 %, so that calls do not march in lockstep. */
export function jitter(ms: number): number {
  return Math.round(ms * (0.9 + Math.random() * 0.2));
}

/**
 * An agent doing ordinary work, task after task, always inside its grant: the orchestrator
 * starts a task, the broker issues a token for it (refreshing or delegating it when the role
 * says so), the agent calls at a steady cadence, then the task completes and every token of it
 * is revoked. The same routine writes the history (on a virtual clock) and runs live.
 */
export class SteadyWorker {
  readonly role: Role;
  readonly #deps: WorkerDeps;
  #seq = 0;

  constructor(role: Role, deps: WorkerDeps) {
    this.role = role;
    this.#deps = deps;
  }

  async run(clock: Clock): Promise<void> {
    while (!clock.done()) await this.#task(clock);
  }

  async #task(clock: Clock): Promise<void> {
    const { role } = this;
    const { broker, tasks, environment } = this.#deps;
    const agent = this.#deps.agent(role.agentId);
    const start = clock.now();
    const taskId = `T-${this.#deps.runId}-${role.agentId}-${++this.#seq}`;
    const grant = {
      agentId: role.agentId,
      taskId,
      audience: role.audience,
      scopes: role.scopes,
      resources: role.resources,
      maxSessionS: MAX_SESSION_S,
      environment,
    };
    tasks.started({
      id: taskId,
      agentId: role.agentId,
      intent: role.intent,
      tools: role.tools,
      deadline: start + TASK_DEADLINE_MS,
      time: start,
    });
    let token = broker.issue({ ...grant, expiresAt: start + TOKEN_TTL_MS, time: start });
    const held: DemoToken[] = [token];
    const delegate = role.delegate;
    const child = delegate
      ? broker.exchange(token, {
          ...grant,
          agentId: delegate.agentId,
          scopes: delegate.scopes,
          expiresAt: start + TOKEN_TTL_MS,
          time: start + 1,
        })
      : undefined;
    if (child) held.push(child);

    let lastUse = start;
    for (let i = 0; i < role.callsPerTask; i++) {
      if (!(await clock.sleep(jitter(role.cadenceMs)))) break;
      const now = clock.now();
      lastUse = now + 300;
      const call = role.calls[i % role.calls.length];
      if (call)
        withTask({ id: taskId, agentId: role.agentId, intent: role.intent, tools: role.tools }, () => agent.use(token.secret, call, now));
      if (delegate && child && i % 2 === 1) {
        withTask({ id: taskId, agentId: delegate.agentId }, () =>
          this.#deps.agent(delegate.agentId).use(child.secret, delegate.call, now + 300),
        );
      }
      if (role.refreshes && i === Math.floor(role.callsPerTask / 2)) {
        token = broker.refresh(token, { ...grant, expiresAt: now + 500 + TOKEN_TTL_MS, time: now + 500 });
        held.push(token);
      }
    }
    await clock.sleep(1000);
    // Stopped mid-task, the clock may not have moved past the delegate's last call.
    const end = Math.max(clock.now(), lastUse + 100);
    tasks.ended(taskId, 'completed', { agentId: role.agentId, time: end });
    for (const t of held) broker.revoke(t, 'task completed', end + 10);
  }
}
