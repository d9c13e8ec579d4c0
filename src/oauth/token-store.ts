import { LRUCache } from "lru-cache";
import type { ChangeFeed } from "../storage/change-feed.js";
import { databaseFailure } from "../storage/failures.js";
import type { TokenFilter, TokenRecord, TokenRepository, TokenWithClient } from "./tokens.js";

export const TOKEN_CHANGE = "oauth-token";

export interface TokenStoreOptions {
  /**
   * How long an access token read by digest is remembered, in ms; 0 turns the cache off. Any revocation
   * or client change drops the whole cache: on this node before the write's caller continues, on
   * the other nodes of a PostgreSQL cluster when the change feed's notification arrives (or, with the
   * feed down, within its detection time). So this is only the bound for a change the feed never carried.
   */
  cacheMs: number;
  /** The clock of cachedUntil (the server's). */
  now?: () => number;
  /** Most access tokens remembered (CONDUIT_TOKEN_CACHE_SIZE); default 100,000. */
  cacheSize?: number;
  /** Largest number of rows written by one grouped INSERT. */
  maxBatch?: number;
  /** Most grouped INSERTs in flight at once; the rows issued meanwhile wait for the next one. */
  maxInFlight?: number;
  /**
   * Reads by digest that miss the cache in the same turn of the event loop go to the database as one
   * statement (TokenRepository.findByDigests); READS_GROUPED by dialect.
   */
  groupReads?: boolean;
}

/**
 * Whether reads that miss the cache are grouped, by dialect (issue 10). On PostgreSQL each read is a round
 * trip: a write to the socket that wakes the server (about a fifth of Conduit's CPU on a bearer request
 * that reads its token) and a statement there; grouped, the requests of one turn of the event loop share
 * one. SQLite's reads are synchronous calls in the process: grouping would only delay them.
 */
export const READS_GROUPED = { sqlite: false, postgres: true } as const;

/** Most digests in one grouped read; more wait for the next statement of the same turn. */
const MAX_READ_GROUP = 500;

interface PendingRead {
  resolve: (token: TokenWithClient | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Grouped INSERTs in flight at once, by dialect (issue 10). On PostgreSQL, two: the tokens issued while
 * they run wait for the next one, which groups more rows per commit than the ten a full pool would carry,
 * for less CPU in PostgreSQL per token issued. Measured (client_credentials issuance, 8 s rounds, the three
 * settings alternating): 2 in flight beat no bound in each of 6 rounds (by 5 to 30 %), with PostgreSQL's
 * CPU per token 36-52 µs against 51-92 µs; 1 in flight grouped 25 rows per commit but waited on each round
 * trip. SQLite's driver is synchronous (one INSERT at a time anyway): no bound.
 */
export const INSERTS_IN_FLIGHT = { sqlite: Infinity, postgres: 2 } as const;

/**
 * The token repository as the endpoints use it:
 * - reads by digest go through a cache of access tokens that every revocation or client change clears at
 *   once (a rotation or a sweep changes nothing it holds: see markRotated and deleteExpired) (a generation counter keeps a read that raced a revocation out of the cache), so
 *   a revocation still takes effect on the very next request;
 * - inserts issued in the same tick are grouped into one INSERT (one commit), and each caller is answered
 *   only once its rows are durable; with `maxInFlight` INSERTs running, the next groups all issued until
 *   one of them ends.
 */
export class TokenStore implements TokenRepository {
  private readonly cache: LRUCache<string, TokenWithClient> | undefined;
  private generation = 0;
  /** When each cached answer stops being vouched for (its read plus cacheMs). */
  private readonly freshUntil = new WeakMap<TokenWithClient, number>();
  private queue: { records: TokenRecord[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight = 0;
  /** Reads waiting for this turn's grouped statement, by digest (a digest asked twice is read once). */
  private reads = new Map<string, PendingRead[]>();

  constructor(
    private readonly inner: TokenRepository,
    private readonly changes: ChangeFeed,
    private readonly options: TokenStoreOptions,
  ) {
    if (options.cacheMs > 0 && options.cacheSize !== 0)
      this.cache = new LRUCache({ max: options.cacheSize ?? 100_000, ttl: options.cacheMs });
    changes.subscribe((change) => {
      if (change.kind === TOKEN_CHANGE || change.kind === "client") this.invalidate();
    });
  }

  invalidate(): void {
    this.generation++;
    this.cache?.clear();
  }

  async findByDigest(digest: string): Promise<TokenWithClient | undefined> {
    const hit = this.cache?.get(digest);
    if (hit) return hit;
    const generation = this.generation;
    // Vouched for from before the read: what it saw is at most cacheMs old when the entry ends.
    const readAt = (this.options.now ?? Date.now)();
    const token = this.options.groupReads
      ? await this.readGrouped(digest)
      : await this.inner.findByDigest(digest);
    if (
      this.cache &&
      token?.kind === "access" &&
      token.revokedAt === undefined &&
      generation === this.generation
    ) {
      const until = readAt + this.options.cacheMs;
      this.cache.set(digest, token, { ttl: Math.max(1, until - (this.options.now ?? Date.now)()) });
      this.freshUntil.set(token, until);
    }
    return token;
  }

  /**
   * Queues a read for the grouped statement of this turn; the first one of a turn schedules it, after the
   * I/O callbacks of the turn (setImmediate), so the requests read off every socket that turn are in it.
   */
  private readGrouped(digest: string): Promise<TokenWithClient | undefined> {
    return new Promise((resolve, reject) => {
      if (this.reads.size === 0) setImmediate(() => this.readPending());
      const waiting = this.reads.get(digest);
      if (waiting) waiting.push({ resolve, reject });
      else this.reads.set(digest, [{ resolve, reject }]);
    });
  }

  /**
   * One statement per MAX_READ_GROUP digests. Every caller gets its own digest's answer, or the statement's
   * failure: a failed read is never taken as "no such token", and nothing read is cached here (findByDigest
   * decides that, by the generation it saw before the read was queued).
   */
  private readPending(): void {
    const reads = this.reads;
    this.reads = new Map();
    const digests = [...reads.keys()];
    for (let start = 0; start < digests.length; start += MAX_READ_GROUP) {
      const group = digests.slice(start, start + MAX_READ_GROUP);
      this.inner.findByDigests(group).then(
        (found) => {
          for (const digest of group) for (const read of reads.get(digest)!) read.resolve(found.get(digest));
        },
        (error: unknown) => {
          for (const digest of group) for (const read of reads.get(digest)!) read.reject(error);
        },
      );
    }
  }

  findByDigests(digests: readonly string[]): Promise<Map<string, TokenWithClient>> {
    return this.inner.findByDigests(digests);
  }

  /**
   * Until when an answer of findByDigest may be taken as current without reading the row again: the end
   * of its cache entry (dropped sooner by any change on the feed); undefined for an answer not cached.
   */
  cachedUntil(token: TokenWithClient): number | undefined {
    return this.freshUntil.get(token);
  }

  insert(records: TokenRecord[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ records, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= (this.options.maxInFlight ?? Infinity)) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    this.inFlight++;
    try {
      await this.drain();
    } finally {
      this.inFlight--;
      if (this.queue.length > 0) this.schedule();
    }
  }

  private async drain(): Promise<void> {
    const max = this.options.maxBatch ?? 500;
    while (this.queue.length > 0) {
      const batch: typeof this.queue = [];
      let rows = 0;
      while (this.queue.length > 0 && rows + this.queue[0]!.records.length <= max) {
        const item = this.queue.shift()!;
        batch.push(item);
        rows += item.records.length;
      }
      if (batch.length === 0) batch.push(this.queue.shift()!);
      try {
        await this.inner.insert(batch.flatMap((item) => item.records));
        for (const item of batch) item.resolve();
      } catch (error) {
        // The database is gone (issue 11): every caller gets that failure (503) at once. Retrying row by
        // row would wait out the timeouts once per caller, and could meet the batch's own rows if the
        // server committed it before the connection was lost.
        if (databaseFailure(error) === "unavailable") for (const item of batch) item.reject(error);
        // Attribute the failure: each caller's rows on their own.
        else for (const item of batch) await this.inner.insert(item.records).then(item.resolve, item.reject);
      }
    }
  }

  get(id: string): Promise<TokenRecord | undefined> {
    return this.inner.get(id);
  }

  list(filter: TokenFilter, now: number): Promise<TokenRecord[]> {
    return this.inner.list(filter, now);
  }

  async revoke(id: string, now: number): Promise<boolean> {
    return this.changing(this.inner.revoke(id, now));
  }

  async revokeGrant(grantId: string, now: number): Promise<number> {
    return this.changing(this.inner.revokeGrant(grantId, now));
  }

  async revokeUser(username: string, now: number): Promise<number> {
    return this.changing(this.inner.revokeUser(username, now));
  }

  /**
   * Changes nothing the cache holds, so it is not published: the cache holds access tokens only, and an
   * access token's answer never depends on `rotated_at` (isActive reads it for refresh tokens only), which
   * is all this writes. A refresh with rotation (one on every refresh grant) therefore leaves every node's
   * cache warm; a reuse that revokes the family goes through revokeGrant, which is published.
   */
  markRotated(id: string, now: number): Promise<boolean> {
    return this.inner.markRotated(id, now);
  }

  /**
   * Not published either: it deletes only rows whose `expires_at` has passed, and a cached access token
   * past its `expires_at` is refused by that field alone (isActive), whether its row is still there or
   * not. A sweep of 10^5 expired rows so no longer empties every node's cache.
   */
  deleteExpired(now: number): Promise<number> {
    return this.inner.deleteExpired(now);
  }

  /**
   * Drops this node's cache at once and tells the other nodes, once the write is done: also when it
   * failed, since it may have committed before the failure (a connection lost after the commit).
   */
  private async changing<T>(write: Promise<T>): Promise<T> {
    try {
      return await write;
    } finally {
      this.invalidate();
      this.changes.publish({ kind: TOKEN_CHANGE });
    }
  }
}
