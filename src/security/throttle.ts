import { LRUCache } from "lru-cache";

export interface ThrottleOptions {
  /** Failures allowed before attempts are delayed. */
  freeAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How long a failure counts. */
  windowMs?: number;
  /** Attempts that may wait or run at once per user; more are refused at once. */
  maxPending?: number;
  /**
   * The same, per client address. Addresses are shared (a proxy, an office NAT), so they are given more
   * room than a user: more free failures, a lower delay cap, more attempts at once.
   */
  addressFreeAttempts?: number;
  addressMaxDelayMs?: number;
  addressMaxPending?: number;
}

/**
 * Slows down repeated failed logins for one user or from one address: after `freeAttempts` failures
 * within `windowMs`, each further attempt waits, doubling up to `maxDelayMs` (addresses, often shared by
 * many people, have their own, looser limits). Attempts still in progress
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
    const o = this.options;
    return Math.max(
      this.delayFor(this.count(`u:${username}`), o.freeAttempts ?? 5, o.maxDelayMs ?? 10_000),
      this.delayFor(this.count(`ip:${ip}`), o.addressFreeAttempts ?? 20, o.addressMaxDelayMs ?? 2_000),
    );
  }

  private delayFor(count: number, free: number, max: number): number {
    if (count < free) return 0;
    return Math.min((this.options.baseDelayMs ?? 250) * 2 ** Math.min(count - free, 16), max);
  }

  /**
   * Reserves an attempt: the delay to wait before checking the password, or undefined when too many
   * attempts for this user or address are already waiting (refuse at once). Call `release` afterwards.
   */
  reserve(username: string, ip: string): number | undefined {
    if (
      (this.pending.get(`u:${username}`) ?? 0) >= (this.options.maxPending ?? 10) ||
      (this.pending.get(`ip:${ip}`) ?? 0) >= (this.options.addressMaxPending ?? 50)
    )
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
