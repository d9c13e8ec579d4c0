import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Clock } from "../../kernel/clock.js";
import type { ActiveToken } from "../types.js";

/** A cached verdict on one token: the token (active) or null (inactive), and how long it may be used. */
export interface CachedVerdict {
  token: ActiveToken | null;
  /** Until when (ms) the verdict is used without asking again. */
  freshUntil: number;
  /** Until when (ms) an active verdict may still be served while the server is down (0: never). */
  staleUntil: number;
}

export interface CachePolicy {
  /** Longest life of an active answer (cacheTtlSeconds). */
  activeTtlMs: number;
  /** Life of an inactive answer (a few seconds). */
  inactiveTtlMs: number;
  /** How long past freshness an active answer may be served during an outage; 0 = never (default). */
  staleIfErrorMs: number;
}

/**
 * The verdicts of one external server, keyed by a SHA-256 digest of the server's name and the token (the
 * token itself is never kept), bounded in size (LRU). An active answer lives min(cacheTtl, exp − now);
 * the caller re-checks exp on every hit. Concurrent misses on one key share one upstream call.
 * Only verdicts are cached; scope decisions are made per request by the bearer authenticator.
 */
export class TokenCache {
  private readonly entries: LRUCache<string, CachedVerdict>;
  private readonly inflight = new Map<string, Promise<CachedVerdict>>();
  private readonly prefix: string;

  constructor(
    server: string,
    private readonly policy: CachePolicy,
    private readonly clock: Clock,
    max = 10_000,
  ) {
    this.entries = new LRUCache({ max });
    this.prefix = `${server}\0`;
  }

  key(token: string): string {
    return createHash("sha256")
      .update(this.prefix + token)
      .digest("base64url");
  }

  /** A verdict that is still fresh, else undefined. */
  fresh(key: string, now = this.clock.now()): CachedVerdict | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (now < entry.freshUntil) return entry;
    if (now >= entry.staleUntil) this.entries.delete(key);
    return undefined;
  }

  /** An active verdict past its freshness but inside the stale-if-error window, for outages. */
  stale(key: string, now = this.clock.now()): CachedVerdict | undefined {
    const entry = this.entries.get(key);
    return entry?.token && now < entry.staleUntil ? entry : undefined;
  }

  /**
   * Runs `fetch` once for all concurrent callers of one key and caches its verdict. Errors are not cached.
   */
  load(key: string, fetch: () => Promise<ActiveToken | null>): Promise<CachedVerdict> {
    const running = this.inflight.get(key);
    if (running) return running;
    const promise = fetch()
      .then((token) => this.store(key, token))
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, promise);
    return promise;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private store(key: string, token: ActiveToken | null): CachedVerdict {
    const now = this.clock.now();
    let verdict: CachedVerdict;
    if (token) {
      const expiresAt = token.expiresAt ?? Number.POSITIVE_INFINITY;
      const freshUntil = Math.min(now + this.policy.activeTtlMs, expiresAt);
      const staleUntil =
        this.policy.staleIfErrorMs > 0 ? Math.min(freshUntil + this.policy.staleIfErrorMs, expiresAt) : 0;
      verdict = { token, freshUntil, staleUntil };
    } else {
      verdict = { token: null, freshUntil: now + this.policy.inactiveTtlMs, staleUntil: 0 };
    }
    if (Math.max(verdict.freshUntil, verdict.staleUntil) > now) this.entries.set(key, verdict);
    return verdict;
  }
}
