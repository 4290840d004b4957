const KEY = 'intentwatch.queue';

/** Remembers the queue's filters, so that "back to the queue" returns to the same view. @param {URLSearchParams} query */
export function rememberQueue(query) {
  const s = query.toString();
  sessionStorage.setItem(KEY, `#/alerts${s ? `?${s}` : ''}`);
}

/** The queue as the analyst last left it. */
export function queueHash() {
  return sessionStorage.getItem(KEY) ?? '#/alerts';
}
