import { type Store, toMs } from '@intentwatch/core';
import { END_EVENTS } from './sql.js';

export interface Task {
  taskId: string;
  started: boolean;
  intent: string;
  tools: string[];
  deadline: string | null;
  ended: boolean;
  endedAt: string | null;
  endEvent: string;
}

/**
 * Resolves the tasks that uses and grants name: plan (from `started`) and end. Lineage (grants,
 * sessions, delegation chains, revocations) is `Lineage` in `@intentwatch/core`.
 */
export class IntentResolver {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Tasks by id: plan (from `started`) and end. Unknown tasks are absent. */
  async tasks(taskIds: Iterable<string>): Promise<Map<string, Task>> {
    const ids = [...new Set(taskIds)].filter(Boolean);
    const out = new Map<string, Task>();
    if (ids.length === 0) return out;
    const rows = await this.#store.query<{
      task_id: string;
      started: number;
      intent: string;
      tools: string[];
      deadline: string | null;
      ended: number;
      ended_at: string;
      end_event: string;
    }>(
      `SELECT task_id, countIf(event = 'started') > 0 AS started,
              argMinIf(intent, time, event = 'started') AS intent, argMinIf(tools, time, event = 'started') AS tools,
              argMinIf(deadline, time, event = 'started') AS deadline,
              countIf(event IN ${END_EVENTS}) > 0 AS ended, minIf(time, event IN ${END_EVENTS}) AS ended_at,
              argMinIf(event, time, event IN ${END_EVENTS}) AS end_event
       FROM task_events WHERE task_id IN {ids:Array(String)} GROUP BY task_id`,
      { ids },
    );
    for (const r of rows) {
      out.set(r.task_id, {
        taskId: r.task_id,
        started: Boolean(Number(r.started)),
        intent: r.intent,
        tools: r.tools,
        deadline: r.deadline,
        ended: Boolean(Number(r.ended)),
        endedAt: Number(r.ended) ? r.ended_at : null,
        endEvent: r.end_event,
      });
    }
    return out;
  }
}

/** Epoch ms of a grant or task time, or undefined. */
export function msOf(value: string | null | undefined): number | undefined {
  return value ? toMs(value) : undefined;
}
