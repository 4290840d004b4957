import type { Redis } from 'ioredis';

/**
 * A sliding-window limit: at most `limit` distinct members per `key` within `windowMs`. A member
 * already admitted in the window is admitted again without counting twice, so the retries of
 * one delivery spend one unit, not one per attempt.
 */
export interface RateLimiter {
  /** True when `member` may go now (and it is counted); false past the limit. */
  acquire(key: string, member: string, limit: number, windowMs: number): Promise<boolean>;
}

/** The limiter of one process (embedded mode: one process runs every delivery). */
export class MemoryRateLimiter implements RateLimiter {
  readonly #windows = new Map<string, Map<string, number>>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async acquire(key: string, member: string, limit: number, windowMs: number): Promise<boolean> {
    const now = this.#now();
    let w = this.#windows.get(key);
    if (!w) {
      w = new Map();
      this.#windows.set(key, w);
    }
    for (const [m, at] of w) if (at <= now - windowMs) w.delete(m);
    if (w.has(member)) return true;
    if (w.size >= limit) return false;
    w.set(member, now);
    return true;
  }
}

// One atomic step on a sorted set of member → admission time, shared by every worker.
const ACQUIRE = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 1 end
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return 1
end
return 0`;

/** The limiter shared by every worker on one Redis, so that N workers together stay under the limit. */
export class RedisRateLimiter implements RateLimiter {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async acquire(key: string, member: string, limit: number, windowMs: number): Promise<boolean> {
    const ok = await this.#redis.eval(ACQUIRE, 1, `${this.#prefix}:ratelimit:${key}`, Date.now(), windowMs, limit, member);
    return Number(ok) === 1;
  }
}
