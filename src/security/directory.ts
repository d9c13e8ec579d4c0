import { LRUCache } from "lru-cache";
import type { UserRecord, UserRepository } from "../storage/repositories/users.js";
import { principalFor, type Principal } from "./principal.js";

/**
 * Users as the request path sees them: read through a small cache. Writes on this node drop the entry at
 * once; on PostgreSQL other nodes drop theirs through the change feed (src/storage/change-feed.ts), and
 * the short TTL bounds any delay if a notification is lost.
 */
export class UserDirectory {
  private readonly cache: LRUCache<string, { user: UserRecord | null }>;

  constructor(
    private readonly users: UserRepository,
    options: { ttlMs?: number; max?: number } = {},
  ) {
    this.cache = new LRUCache({ max: options.max ?? 10_000, ttl: options.ttlMs ?? 5_000 });
  }

  /** Bumped by every invalidation: a read that started before one must not be cached after it. */
  private generation = 0;

  async get(username: string): Promise<UserRecord | undefined> {
    const hit = this.cache.get(username);
    if (hit) return hit.user ?? undefined;
    const generation = this.generation;
    const user = await this.users.get(username);
    if (generation === this.generation) this.cache.set(username, { user: user ?? null });
    return user;
  }

  /**
   * A principal for a user record, shared between requests while the record is current (principals of
   * Basic and session authentication are never mutated; bearer principals get their own copy).
   */
  principal(user: UserRecord, method: "basic" | "session"): Principal {
    let byMethod = this.principals.get(user);
    if (!byMethod) this.principals.set(user, (byMethod = {}));
    return (byMethod[method] ??= Object.freeze(principalFor(user, method)) as Principal);
  }

  private readonly principals = new WeakMap<UserRecord, Partial<Record<string, Principal>>>();

  /** The cached record of a user, without reading the database; undefined when not cached. */
  peek(username: string): UserRecord | undefined {
    return this.cache.get(username)?.user ?? undefined;
  }

  /** Drops one user, or everyone when no name is given. */
  invalidate(username?: string): void {
    this.generation += 1;
    if (username === undefined) this.cache.clear();
    else this.cache.delete(username);
  }
}
