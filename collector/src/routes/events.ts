import { HttpError } from '@intentwatch/core';
import type { Request, Response } from 'express';
import { eventsFromJsonInSlices } from '../json-events.js';
import { jsonLimitSteps } from '../json-limits.js';
import { nextTurn } from '../normalize-in-slices.js';
import { type RouteContext, redacted, rejected, requests, truncated } from './shared.js';

/** Characters of a JSON body checked against the limits between two turns of the event loop. */
const JSON_TEXT_SLICE = 1 << 20;

/**
 * `POST /v1/token-events` (`kind` token) and `POST /v1/task-events` (`kind` task): a JSON event or
 * an array of them. 200 with the accepted and rejected counts once every stored row is committed;
 * 400 when no event was accepted.
 */
export function eventsRoute(kind: 'token' | 'task', { options, store }: RouteContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const body = req.body instanceof Buffer ? req.body.toString('utf8') : '';
    // Limits first, on the text: JSON.parse then builds only what they let through.
    const check = jsonLimitSteps(body, options.ingestLimits, 'events', JSON_TEXT_SLICE);
    while (!check.next().done) await nextTurn();
    let items: unknown;
    try {
      items = JSON.parse(body);
    } catch (e) {
      throw new HttpError(400, 'invalid_body', `the body is not JSON: ${(e as Error).message.slice(0, 200)}`);
    }
    if (!Array.isArray(items)) items = [items];
    await nextTurn();
    const result = await eventsFromJsonInSlices(kind, items as unknown[], options);
    if (result.secretsRedacted) redacted.inc(result.secretsRedacted);
    if (result.truncated) truncated.inc(result.truncated);
    const list = items as unknown[];
    if (list.length > 0 && result.rejectedCount === list.length) {
      rejected.inc({ endpoint: `${kind}-events` }, list.length);
      const shown = result.rejected.map((r) => `[${r.index}] ${r.message}`).join('; ');
      const more = result.rejectedCount - result.rejected.length;
      throw new HttpError(400, 'invalid_events', `no event was accepted: ${shown}${more > 0 ? `; and ${more} more` : ''}`);
    }
    await store(result.rows);
    if (result.rejectedCount) rejected.inc({ endpoint: `${kind}-events` }, result.rejectedCount);
    requests.inc({ endpoint: `${kind}-events`, status: '200' });
    res.status(200).json({ accepted: list.length - result.rejectedCount, rejected: result.rejected, rejectedCount: result.rejectedCount });
  };
}
