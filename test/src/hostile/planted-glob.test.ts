import { MAX_GLOB_WILDCARDS } from '@intentwatch/core';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../support/monitor.js';
import { type Program, intentwatch, listeningPorts } from './program.js';
import { otlpRequest, until } from './support.js';

// A sender plants a grant whose resource pattern would make a backtracking regex run for ages
// (`**a**a…**!` against a long run of `a`), then uses the token on such a resource. The
// detector raises the alert; the analyst who opens the alert or the token page must get an
// answer. The program runs as a child process so that a stuck event loop cannot stop the
// test's own deadline from firing.

const INGEST_KEY = 'ingest-key-planted-glob-test-0123';
const API_KEY = 'admin-key-planted-glob-test-0123';
/** The most wildcards a pattern may hold, each followed by `a`, then a character the resource lacks. */
const PLANTED = `${'**a'.repeat(MAX_GLOB_WILDCARDS / 2)}!`;
const RESOURCE = 'a'.repeat(4000);
/** Generous: the page is answered in milliseconds; a backtracking matcher would take years. */
const DEADLINE_MS = 20_000;

const data = tempDataDir();
let program: Program | undefined;

afterAll(() => {
  if (program && program.child.exitCode === null && program.child.signalCode === null) program.child.kill('SIGKILL');
  data.remove();
});

describe('A planted pathological resource pattern', () => {
  it('leaves the alert and the token page answering, with the use shown outside the grant', async () => {
    program = intentwatch({
      INTENTWATCH_DATA_DIR: data.dir,
      INTENTWATCH_INGEST_KEYS: INGEST_KEY,
      INTENTWATCH_API_KEYS: `admin:${API_KEY}`,
      DETECT_INTERVAL_MS: '200',
    });
    const { otlp, api } = await listeningPorts(program);
    const ingest = { authorization: `Bearer ${INGEST_KEY}`, 'content-type': 'application/json' };
    const headers = { authorization: `Bearer ${API_KEY}` };
    const now = Date.now();

    const grant = await fetch(`http://127.0.0.1:${otlp}/v1/token-events`, {
      method: 'POST',
      headers: ingest,
      body: JSON.stringify([
        {
          'token.event': 'issued',
          'token.id': 'tok-planted-glob',
          'gen_ai.agent.id': 'glob-bot',
          'token.resources': [PLANTED],
          time: new Date(now - 60_000).toISOString(),
        },
      ]),
    });
    expect(await grant.json()).toEqual({ accepted: 1, rejected: [], rejectedCount: 0 });
    const use = await fetch(`http://127.0.0.1:${otlp}/v1/traces`, {
      method: 'POST',
      headers: ingest,
      body: JSON.stringify(
        otlpRequest({ 'service.name': 'glob-bot' }, [
          { attributes: { 'token.id': 'tok-planted-glob', 'gen_ai.agent.id': 'glob-bot', 'token.resource': RESOURCE } },
        ]),
      ),
    });
    expect(use.status).toBe(200);

    let alertId = '';
    await until(
      'the scope_creep alert',
      async () => {
        const res = await fetch(`http://127.0.0.1:${api}/v1/alerts?detector=scope_creep&tokenId=tok-planted-glob`, { headers });
        const body = (await res.json()) as { alerts: { id: string }[] };
        alertId = body.alerts[0]?.id ?? '';
        return alertId !== '';
      },
      60_000,
    );

    type Resources = { granted: string[]; used: { value: string; allowed: boolean | null }[] };
    const alert = await fetch(`http://127.0.0.1:${api}/v1/alerts/${encodeURIComponent(alertId)}`, {
      headers,
      signal: AbortSignal.timeout(DEADLINE_MS),
    });
    expect(alert.status).toBe(200);
    const alertBody = (await alert.json()) as { intentVsActual: { resources: Resources } };
    expect(alertBody.intentVsActual.resources.granted).toEqual([PLANTED]);
    expect(alertBody.intentVsActual.resources.used).toEqual([expect.objectContaining({ value: RESOURCE, allowed: false })]);

    const token = await fetch(`http://127.0.0.1:${api}/v1/tokens/tok-planted-glob`, { headers, signal: AbortSignal.timeout(DEADLINE_MS) });
    expect(token.status).toBe(200);
    const tokenBody = (await token.json()) as { intentVsActual: { resources: Resources } };
    expect(tokenBody.intentVsActual.resources.used).toEqual([expect.objectContaining({ value: RESOURCE, allowed: false })]);

    program.child.kill('SIGTERM');
    expect(await program.exited, program.output()).toBe(0);
  });
});
