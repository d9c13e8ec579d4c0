import type { Kysely } from "kysely";
import { LRUCache } from "lru-cache";
import type { Database } from "../storage/schema.js";

/**
 * Approval forms already decided, across every node sharing the database: a decision is taken once, so
 * an approval replayed on another node (with the old cookie, within the ticket's lifetime) is refused.
 */
export interface DecisionStore {
  /** True for exactly one caller per digest (until it expires), false for every replay. */
  spend(digest: string, expiresAt: number): Promise<boolean>;
  deleteExpired(now: number): Promise<number>;
}

export class KyselyDecisionStore implements DecisionStore {
  /** Decided here: a replay on this node is refused without a database round trip. */
  private readonly local: LRUCache<string, true>;

  constructor(
    private readonly db: Kysely<Database>,
    lifetimeMs: number,
  ) {
    this.local = new LRUCache<string, true>({ max: 100_000, ttl: lifetimeMs });
  }

  async spend(digest: string, expiresAt: number): Promise<boolean> {
    if (this.local.has(digest)) return false;
    this.local.set(digest, true);
    // The primary key decides between racing nodes: one insert wins, the others insert nothing.
    const result = await this.db
      .insertInto("oauth_decided_tickets")
      .values({ digest, expires_at: expiresAt })
      .onConflict((oc) => oc.column("digest").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async deleteExpired(now: number): Promise<number> {
    const result = await this.db
      .deleteFrom("oauth_decided_tickets")
      .where("expires_at", "<=", now)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
