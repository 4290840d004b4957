import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { Store } from '@intentwatch/core';
import { loadConfig } from '@intentwatch/cli';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../support/monitor.js';
import { type Program, intentwatch, listeningPorts } from './program.js';
import { Sender, reconcile, storedSpanIds, until } from './support.js';

const programs: Program[] = [];
const dirs: ReturnType<typeof tempDataDir>[] = [];

afterAll(() => {
  for (const p of programs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const d of dirs) d.remove();
});

function run(env: NodeJS.ProcessEnv): Program {
  const program = intentwatch({ INTENTWATCH_API_KEYS: 'admin:shutdown-admin-key-0123456789', ...env });
  programs.push(program);
  return program;
}

describe('intentwatch all on SIGTERM', () => {
  it('drains under load and exits 0; after it, every acknowledged span is in the store', async () => {
    const data = tempDataDir();
    dirs.push(data);
    const program = run({ INTENTWATCH_DATA_DIR: data.dir });
    const { otlp, api } = await listeningPorts(program);
    const url = `http://127.0.0.1:${otlp}`;
    // An analyst's screen polling the API over a kept-alive connection must not hold the exit open.
    let polling = true;
    const poller = (async () => {
      while (polling)
        await fetch(`http://127.0.0.1:${api}/healthz`).then(
          (r) => r.arrayBuffer(),
          () => undefined,
        );
    })();
    const senders = [
      new Sender({ url, run: 'drain-json', spansPerRequest: 100, concurrency: 3, encoding: 'json' }).start(),
      new Sender({ url, run: 'drain-proto', spansPerRequest: 100, concurrency: 3, encoding: 'protobuf' }).start(),
    ];
    await until('2,000 spans acknowledged', () => senders.every((s) => s.acknowledged.size >= 1000));

    program.child.kill('SIGTERM');
    const code = await program.exited;
    // The program has gone: whatever the senders still had in flight is theirs to resend elsewhere.
    for (const s of senders) s.abandonNow();
    polling = false;
    await Promise.all([...senders.map((s) => s.stop({ abandon: true })), poller]);
    expect(code, program.output()).toBe(0);

    // Opened again, as the next start would: the data dir is free and holds every acknowledged span.
    const store = await Store.open(loadConfig({ INTENTWATCH_DATA_DIR: data.dir }, { dotenv: false }));
    try {
      for (const [i, sender] of senders.entries()) {
        const result = reconcile(sender, await storedSpanIds(store, i === 0 ? 'drain-json' : 'drain-proto'));
        console.info(`SIGTERM under load (${i === 0 ? 'json' : 'protobuf'}):`, JSON.stringify(result));
        expect(result.lost).toBe(0);
        expect(result.unknown).toBe(0);
        // A drained request is answered: none was committed without its sender hearing of it.
        expect(result.storedDistinct).toBe(result.acknowledged);
      }
    } finally {
      await store.close();
    }
  });

  it('loses no acknowledged span when killed outright (SIGKILL) under load, and starts again on the same data dir', async () => {
    const data = tempDataDir();
    dirs.push(data);
    const program = run({ INTENTWATCH_DATA_DIR: data.dir });
    const { otlp } = await listeningPorts(program);
    const sender = new Sender({ url: `http://127.0.0.1:${otlp}`, run: 'killed', spansPerRequest: 100, concurrency: 4 }).start();
    await until('1,000 spans acknowledged', () => sender.acknowledged.size >= 1000);
    program.child.kill('SIGKILL');
    expect(await program.exited).toBe('SIGKILL');
    sender.abandonNow();
    await sender.stop({ abandon: true });

    // Started again on the same data dir, as a supervisor would: it comes up and holds every acknowledged span.
    const again = run({ INTENTWATCH_DATA_DIR: data.dir });
    await listeningPorts(again);
    again.child.kill('SIGTERM');
    expect(await again.exited, again.output()).toBe(0);
    const store = await Store.open(loadConfig({ INTENTWATCH_DATA_DIR: data.dir }, { dotenv: false }));
    try {
      const result = reconcile(sender, await storedSpanIds(store, 'killed'));
      console.info('SIGKILL under load:', JSON.stringify(result));
      expect(result.lost).toBe(0);
      expect(result.unknown).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('exits 0 when the signal arrives during start-up, while the store is still being opened', async () => {
    // A ClickHouse HTTP endpoint that holds every request until released, then answers each
    // with an empty success: start-up is stuck opening the store when the signal arrives.
    const held: ServerResponse<IncomingMessage>[] = [];
    let released = false;
    const answer = (res: ServerResponse<IncomingMessage>) => res.end(res.req.url?.startsWith('/ping') ? 'Ok.\n' : '');
    const clickhouse = createServer((req, res) => {
      req.resume();
      if (released) answer(res);
      else held.push(res);
    });
    await new Promise<void>((resolve) => clickhouse.listen(0, '127.0.0.1', resolve));
    const data = tempDataDir();
    dirs.push(data);
    try {
      const port = (clickhouse.address() as { port: number }).port;
      const program = run({ INTENTWATCH_DATA_DIR: data.dir, CLICKHOUSE_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'info' });
      await until('start-up to reach the store', () => held.length > 0, 60_000);

      program.child.kill('SIGTERM');
      await until(
        'the signal to be taken',
        () =>
          /will stop once start-up has finished/.test(program.stderr()) ||
          program.child.exitCode !== null ||
          program.child.signalCode !== null,
      );
      released = true;
      for (const res of held.splice(0)) answer(res);
      expect(await program.exited, program.output()).toBe(0);
    } finally {
      clickhouse.closeAllConnections();
      await new Promise<void>((resolve) => clickhouse.close(() => resolve()));
    }
  });
});
