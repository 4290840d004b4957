import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Tracer } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskContextSpanProcessor, currentTask, ensureContextManager, withTask } from './index.js';

const exporter = new InMemorySpanExporter();
let provider: BasicTracerProvider;
let tracer: Tracer;

beforeAll(() => {
  ensureContextManager();
  provider = new BasicTracerProvider({ spanProcessors: [new TaskContextSpanProcessor(), new SimpleSpanProcessor(exporter)] });
  tracer = provider.getTracer('test');
});

afterAll(async () => {
  await provider.shutdown();
});

function emit(name: string): void {
  tracer.startSpan(name).end();
}

function attrsOf(name: string): Record<string, unknown> {
  const span = exporter.getFinishedSpans().find((s) => s.name === name);
  if (!span) throw new Error(`no span named ${name}`);
  return span.attributes;
}

describe('withTask', () => {
  it('puts task.id and gen_ai.agent.id on spans after await, in timers and in promise chains', async () => {
    await withTask({ id: 'T-await', agentId: 'triage-bot' }, async () => {
      emit('sync');
      await sleep(5);
      emit('after-await');
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          emit('in-timeout');
          resolve();
        }, 5),
      );
      await new Promise<void>((resolve) =>
        setImmediate(() => {
          emit('in-immediate');
          resolve();
        }),
      );
      await Promise.resolve()
        .then(() => sleep(1))
        .then(() => emit('in-then'));
      queueMicrotask(() => emit('in-microtask'));
      await sleep(1);
    });
    for (const name of ['sync', 'after-await', 'in-timeout', 'in-immediate', 'in-then', 'in-microtask']) {
      expect(attrsOf(name), name).toMatchObject({ 'task.id': 'T-await', 'gen_ai.agent.id': 'triage-bot' });
    }
  });

  it('keeps interleaved tasks apart', async () => {
    const work = (id: string, delays: number[]) =>
      withTask({ id, agentId: `agent-${id}` }, async () => {
        for (const [i, d] of delays.entries()) {
          await sleep(d);
          emit(`${id}-${i}`);
        }
      });
    await Promise.all([work('A', [3, 1, 4, 1]), work('B', [1, 5, 2, 6])]);
    for (const id of ['A', 'B']) {
      for (let i = 0; i < 4; i++) expect(attrsOf(`${id}-${i}`)).toMatchObject({ 'task.id': id, 'gen_ai.agent.id': `agent-${id}` });
    }
  });

  it('lets an inner task replace the outer one and restores the outer one after it', async () => {
    await withTask({ id: 'outer' }, async () => {
      await withTask({ id: 'inner', agentId: 'sub-agent' }, async () => {
        await sleep(1);
        emit('nested-inner');
      });
      emit('nested-outer');
    });
    expect(attrsOf('nested-inner')).toMatchObject({ 'task.id': 'inner', 'gen_ai.agent.id': 'sub-agent' });
    expect(attrsOf('nested-outer')['task.id']).toBe('outer');
    expect(attrsOf('nested-outer')['gen_ai.agent.id']).toBeUndefined();
  });

  it('reaches callbacks of event emitters created inside the task', async () => {
    const emitter = new EventEmitter();
    const done = new Promise<void>((resolve) => emitter.once('ready', resolve));
    await withTask({ id: 'T-events' }, async () => {
      emitter.once('ready', () => emit('in-listener'));
      setTimeout(() => emitter.emit('ready'), 2);
      await done;
    });
    expect(attrsOf('in-listener')['task.id']).toBe('T-events');
  });

  it('keeps attributes a span was started with, and adds nothing outside a task', () => {
    withTask({ id: 'T-own', agentId: 'broker-side' }, () => {
      tracer.startSpan('explicit', { attributes: { 'task.id': 'T-given', 'gen_ai.agent.id': 'grantee' } }).end();
    });
    emit('outside');
    expect(attrsOf('explicit')).toMatchObject({ 'task.id': 'T-given', 'gen_ai.agent.id': 'grantee' });
    expect(attrsOf('outside')['task.id']).toBeUndefined();
    expect(currentTask()).toBeUndefined();
  });

  it('exposes the task intent and tools to the code inside', () => {
    const seen = withTask({ id: 'T-plan', intent: 'label issues', tools: ['github.add_label'] }, () => currentTask());
    expect(seen).toEqual({ id: 'T-plan', intent: 'label issues', tools: ['github.add_label'] });
  });

  it('refuses a task without an id', () => {
    expect(() => withTask({ id: '' }, () => 1)).toThrow(/task id/);
  });
});
