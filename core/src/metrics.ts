import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus registry. Every component registers its metrics here and the API
 * serves it at `GET /metrics`; names start with `intentwatch_`.
 */
export const registry = new Registry();
let defaultsCollected = false;

/** Adds Node's process metrics (RSS, event-loop lag, GC) once. */
export function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: registry, prefix: 'intentwatch_' });
}

function getOrCreate<T>(name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export function counter(name: string, help: string, labelNames: string[] = []): Counter<string> {
  return getOrCreate(name, () => new Counter({ name, help, labelNames, registers: [registry] }));
}

export function gauge(name: string, help: string, labelNames: string[] = []): Gauge<string> {
  return getOrCreate(name, () => new Gauge({ name, help, labelNames, registers: [registry] }));
}

export function histogram(name: string, help: string, labelNames: string[] = [], buckets?: number[]): Histogram<string> {
  return getOrCreate(name, () => new Histogram({ name, help, labelNames, registers: [registry], ...(buckets ? { buckets } : {}) }));
}
