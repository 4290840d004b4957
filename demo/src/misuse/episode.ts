import type { TaskEvents } from '@intentwatch/sdk';
import type { DemoAgent } from '../agent.js';
import type { DemoBroker } from '../broker.js';
import type { Clock } from '../clock.js';

export interface EpisodeContext {
  broker: DemoBroker;
  tasks: TaskEvents;
  agent(agentId: string): DemoAgent;
  environment: string;
  /** Unique per run and per episode, for task ids. */
  tag: string;
}

/** One kind of misuse of docs/conventions.md §2, acted out by agents of its own. */
export interface Episode {
  /** The detector this episode should make fire. */
  detector: string;
  /** Agents that misbehave in it (alerts may name them). */
  agents: readonly string[];
  /** What happens, for the start-up message. */
  summary: string;
  run(ctx: EpisodeContext, clock: Clock): Promise<void>;
}

export const MINUTE = 60_000;
