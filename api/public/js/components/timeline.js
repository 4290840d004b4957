import { h, ms, svg, time } from '../dom.js';

const W = 1000;
const LEFT = 110;
const RIGHT = 16;
const LANE = 22;
const MAX_LANES = 8;

/**
 * A token's uses against its lifetime: the granted window (issue to expiry or revocation) as a
 * band, what came after it hatched, markers for revocation, expiry, task deadline and end,
 * session end and now, and every listed use as a dot on the lane of its target service —
 * red when it is evidence of an alert.
 *
 * @param {any} token TokenDetail
 */
export function usesTimeline(token, now = Date.now()) {
  const lt = token.lifetime;
  const uses = token.uses.items;
  const used = uses.map((u) => ms(u.time));
  const lastActivity = Math.max(now, ...used.filter(Number.isFinite), ms(lt.revokedAt) || 0, ms(lt.taskEndedAt) || 0);
  const start = Math.min(...[ms(lt.issuedAt), ms(token.session.startedAt), ...used].filter(Number.isFinite), now);
  // Marks far in the future (a long expiry) would squeeze the uses into a sliver: past 1.5×
  // the active span they are pinned to the right edge and say so.
  const cap = lastActivity + Math.max(60_000, (lastActivity - start) * 0.5);
  const marks = [
    [token.grant?.event ?? 'issued', lt.issuedAt, 'mark-issued'],
    ['expires', lt.expiresAt, 'mark-expiry'],
    ['revoked', lt.revokedAt, 'mark-revoked'],
    ['task deadline', lt.taskDeadline, 'mark-deadline'],
    ['task ended', lt.taskEndedAt, 'mark-ended'],
    ['session ends', lt.sessionEndsAt, 'mark-session'],
  ].filter(([, t]) => Number.isFinite(ms(t)));
  const end = Math.min(cap, Math.max(lastActivity, ...marks.map(([, t]) => ms(t))));
  const span = Math.max(1000, end - start);
  const x = (t) => LEFT + ((Math.min(t, end) - start) / span) * (W - LEFT - RIGHT);

  const targets = [...new Set(uses.map((u) => u.target || '(none)'))];
  const lanes = targets.slice(0, MAX_LANES - 1);
  if (targets.length > lanes.length) lanes.push('other');
  const laneOf = (u) => {
    const i = lanes.indexOf(u.target || '(none)');
    return i >= 0 ? i : lanes.length - 1;
  };
  const bandY = 30;
  const lanesY = bandY + 26;
  const height = lanesY + Math.max(1, lanes.length) * LANE + 24;

  const issued = ms(lt.issuedAt);
  const validEnd = Math.min(...[ms(lt.expiresAt), ms(lt.revokedAt)].filter(Number.isFinite), Number.POSITIVE_INFINITY);
  const children = [];
  children.push(
    svg(
      'defs',
      {},
      svg(
        'pattern',
        { id: 'hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
        svg('rect', { width: 3, height: 6, class: 'hatch' }),
      ),
    ),
  );
  children.push(svg('text', { x: 4, y: bandY + 12, class: 'lane-label' }, 'lifetime'));
  if (Number.isFinite(issued)) {
    const validTo = Number.isFinite(validEnd) ? validEnd : end;
    children.push(
      svg('rect', { x: x(issued), y: bandY, width: Math.max(1, x(validTo) - x(issued)), height: 16, rx: 2, class: 'band-valid' }),
    );
    if (validTo < end)
      children.push(svg('rect', { x: x(validTo), y: bandY, width: Math.max(1, x(end) - x(validTo)), height: 16, class: 'band-after' }));
  } else {
    children.push(svg('rect', { x: LEFT, y: bandY, width: W - LEFT - RIGHT, height: 16, class: 'band-after' }));
    children.push(svg('text', { x: LEFT + 6, y: bandY + 12, class: 'band-text' }, 'no grant: no known lifetime'));
  }
  if (lanes.length === 0) children.push(svg('text', { x: LEFT + 6, y: lanesY + LANE / 2 + 4, class: 'lane-label' }, 'no uses'));
  lanes.forEach((name, i) => {
    const y = lanesY + i * LANE;
    children.push(svg('line', { x1: LEFT, x2: W - RIGHT, y1: y + LANE / 2, y2: y + LANE / 2, class: 'lane-line' }));
    children.push(svg('text', { x: 4, y: y + LANE / 2 + 4, class: 'lane-label' }, name.length > 14 ? `${name.slice(0, 13)}…` : name));
  });
  const beyond = [];
  let labelRow = 0;
  for (const [label, t, cls] of marks.sort((p, q) => ms(p[1]) - ms(q[1]))) {
    const at = ms(t);
    if (at > end) {
      beyond.push(h('span', { class: `beyond ${cls}` }, `${label} ${time(t)}`));
      continue;
    }
    const mx = x(at);
    // Labels of marks close together take turns above the band, so that they stay readable.
    labelRow = labelRow === 0 ? 1 : 0;
    children.push(svg('line', { x1: mx, x2: mx, y1: bandY - 4, y2: height - 20, class: `mark ${cls}` }));
    const anchor = mx > W - 120 ? 'end' : 'start';
    children.push(
      svg(
        'text',
        { x: anchor === 'end' ? mx - 3 : mx + 3, y: bandY - 6 - labelRow * 11, class: `mark-label ${cls}`, 'text-anchor': anchor },
        label,
      ),
    );
  }
  if (now <= end) {
    children.push(svg('line', { x1: x(now), x2: x(now), y1: bandY - 2, y2: height - 20, class: 'mark mark-now' }));
  }
  for (const u of uses) {
    const t = ms(u.time);
    const flagged = u.alertIds.length > 0;
    const dot = svg('circle', {
      cx: x(t),
      cy: lanesY + laneOf(u) * LANE + LANE / 2,
      r: flagged ? 5 : 3.5,
      class: flagged ? 'use use-flagged' : 'use',
    });
    dot.append(
      svg(
        'title',
        {},
        `${time(u.time)} ${u.agentId} → ${u.target} ${u.action}${u.scopes.length ? ` [${u.scopes.join(', ')}]` : ''}${u.resource ? ` ${u.resource}` : ''}${flagged ? ' — evidence of an alert' : ''}`,
      ),
    );
    children.push(dot);
  }
  for (let i = 0; i <= 4; i++) {
    const t = start + (span * i) / 4;
    const tx = x(t);
    children.push(
      svg(
        'text',
        { x: tx, y: height - 6, class: 'axis-label', 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' },
        time(new Date(t).toISOString()),
      ),
    );
  }
  return h(
    'figure',
    { class: 'timeline', 'data-testid': 'uses-timeline' },
    svg(
      'svg',
      {
        viewBox: `0 0 ${W} ${height}`,
        class: 'timeline-svg',
        role: 'img',
        'aria-label': `Timeline of ${uses.length} uses against the token's lifetime`,
      },
      ...children,
    ),
    h(
      'figcaption',
      { class: 'legend muted' },
      h('span', { class: 'lg lg-valid' }, 'valid'),
      h('span', { class: 'lg lg-after' }, 'expired / revoked'),
      h('span', { class: 'lg lg-use' }, 'use'),
      h('span', { class: 'lg lg-flagged' }, 'evidence of an alert'),
      token.uses.truncated ? h('span', null, `latest ${uses.length} of ${token.uses.total} uses shown`) : null,
      beyond.length ? h('span', { class: 'beyond-list' }, 'later →  ', beyond) : null,
    ),
  );
}

/**
 * Agent activity: uses per time bucket as bars, the part that is evidence of alerts in red.
 *
 * @param {{ bucketS: number, buckets: { time: string, uses: number, flagged: number }[] }} activity
 */
export function activityBars(activity) {
  const buckets = activity.buckets;
  if (buckets.length === 0) return h('div', { class: 'empty' }, 'No token use in this window.');
  const first = ms(buckets[0].time);
  const last = ms(buckets[buckets.length - 1].time) + activity.bucketS * 1000;
  const n = Math.max(1, Math.round((last - first) / (activity.bucketS * 1000)));
  const max = Math.max(...buckets.map((b) => b.uses));
  const H = 90;
  const bw = (W - LEFT - RIGHT) / n;
  const children = [
    svg(
      'text',
      { x: 4, y: 14, class: 'lane-label' },
      `max ${max}/${activity.bucketS >= 3600 ? `${activity.bucketS / 3600}h` : `${activity.bucketS / 60}m`}`,
    ),
  ];
  for (const b of buckets) {
    const i = Math.round((ms(b.time) - first) / (activity.bucketS * 1000));
    const bh = (b.uses / max) * (H - 10);
    const fh = (b.flagged / max) * (H - 10);
    const bx = LEFT + i * bw + 1;
    const bar = svg('rect', { x: bx, y: H - bh, width: Math.max(1, bw - 2), height: bh, class: 'bar' });
    bar.append(svg('title', {}, `${time(b.time)}: ${b.uses} uses, ${b.flagged} flagged`));
    children.push(bar);
    if (fh > 0) children.push(svg('rect', { x: bx, y: H - fh, width: Math.max(1, bw - 2), height: fh, class: 'bar-flagged' }));
  }
  children.push(svg('text', { x: LEFT, y: H + 14, class: 'axis-label' }, time(buckets[0].time)));
  children.push(svg('text', { x: W - RIGHT, y: H + 14, class: 'axis-label', 'text-anchor': 'end' }, time(new Date(last).toISOString())));
  return h(
    'figure',
    { class: 'timeline' },
    svg('svg', { viewBox: `0 0 ${W} ${H + 20}`, class: 'timeline-svg', role: 'img', 'aria-label': 'Token uses over time' }, ...children),
  );
}
