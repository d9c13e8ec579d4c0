import { LRUCache } from "lru-cache";

/**
 * Slows down repeated failed logins for one user or from one address: after `freeAttempts` failures
 * within `windowMs`, each further attempt waits, doubling up to `maxDelayMs`. Waiting never blocks
 * the event loop, and a success clears the user's count.
 */
export class LoginThrottle {
  private readonly failures: LRUCache<string, number>;

  constructor(
    private readonly options: {
      freeAttempts?: number;
      baseDelayMs?: number;
      maxDelayMs?: number;
      windowMs?: number;
    } = {},
  ) {
    this.failures = new LRUCache({ max: 100_000, ttl: options.windowMs ?? 15 * 60_000 });
  }

  delayMs(username: string, ip: string): number {
    const count = Math.max(this.failures.get(`u:${username}`) ?? 0, this.failures.get(`ip:${ip}`) ?? 0);
    const free = this.options.freeAttempts ?? 5;
    if (count < free) return 0;
    const base = this.options.baseDelayMs ?? 250;
    return Math.min(base * 2 ** Math.min(count - free, 16), this.options.maxDelayMs ?? 10_000);
  }

  recordFailure(username: string, ip: string): void {
    for (const key of [`u:${username}`, `ip:${ip}`])
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
  }

  recordSuccess(username: string): void {
    this.failures.delete(`u:${username}`);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
