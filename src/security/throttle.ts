import { LRUCache } from "lru-cache";

export interface ThrottleOptions {
  /** Failures allowed before attempts are delayed. */
  freeAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How long a failure counts. */
  windowMs?: number;
  /** Attempts that may wait or run at once per user and per address; more are refused at once. */
  maxPending?: number;
}

/**
 * Slows down repeated failed logins for one user or from one address: after `freeAttempts` failures
 * within `windowMs`, each further attempt waits, doubling up to `maxDelayMs`. Attempts still in progress
 * count too, so a burst of parallel guesses is queued behind growing delays instead of all running at
 * once, and past `maxPending` waiting attempts the next is refused without hashing anything. Waiting never
 * blocks the event loop, and a success clears the user's count.
 */
export class LoginThrottle {
  private readonly failures: LRUCache<string, number>;
  private readonly pending = new Map<string, number>();

  constructor(private readonly options: ThrottleOptions = {}) {
    this.failures = new LRUCache({ max: 100_000, ttl: options.windowMs ?? 15 * 60_000 });
  }

  /** The delay before this attempt runs, without reserving it (for display and tests). */
  delayMs(username: string, ip: string): number {
    const count = Math.max(this.count(`u:${username}`), this.count(`ip:${ip}`));
    const free = this.options.freeAttempts ?? 5;
    if (count < free) return 0;
    const base = this.options.baseDelayMs ?? 250;
    return Math.min(base * 2 ** Math.min(count - free, 16), this.options.maxDelayMs ?? 10_000);
  }

  /**
   * Reserves an attempt: the delay to wait before checking the password, or undefined when too many
   * attempts for this user or address are already waiting (refuse at once). Call `release` afterwards.
   */
  reserve(username: string, ip: string): number | undefined {
    const max = this.options.maxPending ?? 10;
    if ((this.pending.get(`u:${username}`) ?? 0) >= max || (this.pending.get(`ip:${ip}`) ?? 0) >= max)
      return undefined;
    const delay = this.delayMs(username, ip);
    for (const key of [`u:${username}`, `ip:${ip}`]) this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    return delay;
  }

  release(username: string, ip: string): void {
    for (const key of [`u:${username}`, `ip:${ip}`]) {
      const left = (this.pending.get(key) ?? 1) - 1;
      if (left <= 0) this.pending.delete(key);
      else this.pending.set(key, left);
    }
  }

  recordFailure(username: string, ip: string): void {
    for (const key of [`u:${username}`, `ip:${ip}`])
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
  }

  recordSuccess(username: string): void {
    this.failures.delete(`u:${username}`);
  }

  private count(key: string): number {
    return (this.failures.get(key) ?? 0) + (this.pending.get(key) ?? 0);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
