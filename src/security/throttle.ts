import { LRUCache } from "lru-cache";

export interface ThrottleOptions {
  /** Failures allowed before attempts are delayed. */
  freeAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How long a failure counts. */
  windowMs?: number;
  /** Password checks that may run at once per user; more wait their turn. */
  maxConcurrent?: number;
  /** Attempts that may wait per user or per address; past that, the next is refused at once. */
  maxQueued?: number;
  /**
   * Addresses are shared (a proxy, an office NAT), so they get more room than a user: more free
   * failures, a lower delay cap, more checks at once.
   */
  addressFreeAttempts?: number;
  addressMaxDelayMs?: number;
  addressMaxConcurrent?: number;
}

interface Gate {
  active: number;
  queue: (() => void)[];
}

/**
 * Slows down repeated failed logins for one user or from one address: after `freeAttempts` failures
 * within `windowMs`, each further attempt waits, doubling up to `maxDelayMs` (addresses, often shared by
 * many people, have looser limits). Password checks also run a few at a time per user and per address:
 * a burst of parallel guesses queues behind them (and past `maxQueued` is refused without hashing), while
 * a burst of correct logins costs one check, the others finding the credentials verified when their turn
 * comes. Waiting never blocks the event loop; a success clears the user's failures.
 */
export class LoginThrottle {
  private readonly failures: LRUCache<string, number>;
  private readonly gates = new Map<string, Gate>();

  constructor(private readonly options: ThrottleOptions = {}) {
    this.failures = new LRUCache({ max: 100_000, ttl: options.windowMs ?? 15 * 60_000 });
  }

  /** The delay before a password check, from the failures of this user and of this address. */
  delayMs(username: string, ip: string): number {
    const o = this.options;
    return Math.max(
      this.delayFor(this.failures.get(`u:${username}`) ?? 0, o.freeAttempts ?? 5, o.maxDelayMs ?? 10_000),
      this.delayFor(
        this.failures.get(`ip:${ip}`) ?? 0,
        o.addressFreeAttempts ?? 20,
        o.addressMaxDelayMs ?? 2_000,
      ),
    );
  }

  /**
   * Waits for a turn to check a password for this user from this address. Answers the function that
   * gives the turn back, or undefined when too many attempts are already waiting (refuse at once).
   * The user's turn is taken before the address's, always in that order, so turns cannot deadlock.
   */
  async acquire(username: string, ip: string): Promise<(() => void) | undefined> {
    const o = this.options;
    const user = await this.enter(`u:${username}`, o.maxConcurrent ?? 4);
    if (!user) return undefined;
    const address = await this.enter(`ip:${ip}`, o.addressMaxConcurrent ?? 16);
    if (!address) {
      user();
      return undefined;
    }
    return () => {
      address();
      user();
    };
  }

  recordFailure(username: string, ip: string): void {
    for (const key of [`u:${username}`, `ip:${ip}`])
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
  }

  recordSuccess(username: string): void {
    this.failures.delete(`u:${username}`);
  }

  private delayFor(count: number, free: number, max: number): number {
    if (count < free) return 0;
    return Math.min((this.options.baseDelayMs ?? 250) * 2 ** Math.min(count - free, 16), max);
  }

  private async enter(key: string, limit: number): Promise<(() => void) | undefined> {
    let gate = this.gates.get(key);
    if (!gate) this.gates.set(key, (gate = { active: 0, queue: [] }));
    if (gate.active < limit) gate.active += 1;
    else if (gate.queue.length >= (this.options.maxQueued ?? 100)) return undefined;
    else await new Promise<void>((resolve) => gate.queue.push(resolve)); // the leaver hands its turn over
    return () => this.leave(key, gate);
  }

  private leave(key: string, gate: Gate): void {
    const next = gate.queue.shift();
    if (next) return next();
    gate.active -= 1;
    if (gate.active === 0) this.gates.delete(key);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
