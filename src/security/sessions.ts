import type { Kysely } from "kysely";
import { LRUCache } from "lru-cache";
import type { Clock } from "../kernel/clock.js";
import { hmac, randomToken, safeEqual } from "../kernel/crypto.js";
import { ForbiddenError, UnauthorizedError } from "../kernel/errors.js";
import type { Logger } from "../kernel/logger.js";
import type { ChangeFeed } from "../storage/change-feed.js";
import type { UserRecord } from "../storage/repositories/users.js";
import type { Database } from "../storage/schema.js";
import type { Authenticator, AuthRequest } from "./authentication.js";
import { REALM } from "./basic.js";
import type { UserDirectory } from "./directory.js";
import { isAdministrator, type Principal } from "./principal.js";

/** The cookie that carries the session id. */
export const SESSION_COOKIE = "conduit_session";
/** The challenge of every 401 the console gets: never Basic, or the browser would show its own dialog. */
export const SESSION_CHALLENGE = `Session realm="${REALM}"`;
/** The change-feed kind that tells every node a session has ended (the key is the session's digest). */
export const SESSION_CHANGE = "console-session";
/** Last-seen is written at most this often per session (reads and memory carry it in between). */
export const TOUCH_INTERVAL_MS = 60_000;
const SWEEP_INTERVAL_MS = 5 * 60_000;
/** 32 random bytes, base64url: what a session id looks like (anything else is not one of ours). */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export interface SessionOptions {
  /** A session ends after this long without a request. */
  idleMs: number;
  /** A session ends this long after sign-in, however active. */
  lifetimeMs: number;
}

/** A live session, as the console's session endpoints answer it. */
export interface LiveSession {
  username: string;
  principal: Principal;
  createdAt: number;
  /** The absolute end of the session. */
  expiresAt: number;
}

/** What this node remembers of a session it has verified (never the session id itself). */
interface Known {
  username: string;
  credential: string;
  createdAt: number;
  expiresAt: number;
  /** The latest activity this node knows of (its own requests, or last_seen_at as last read). */
  lastSeenAt: number;
  /** When this node last wrote last_seen_at, or the value it last read. */
  writtenAt: number;
  /** The password hash the credential was last matched against (memory only), or undefined. */
  passwordHash: string | undefined;
}

/**
 * The admin console's sessions (issue 8): create, verify, touch, end, sweep. Knows nothing of HTTP.
 *
 * A session id is 32 random bytes; the database holds only its keyed digest (HMAC with a key derived
 * from the server key), so a copy of the database does not hold usable sessions. The CSRF token is
 * derived from the id with another derived key: it needs no storage and cannot be guessed without the id.
 *
 * Several nodes may share one database. A node remembers the sessions it has verified, coherently:
 * an ended session is dropped everywhere at once through the change feed (`console-session`, keyed by
 * digest); the user is looked up through the UserDirectory (cached, invalidated by the feed) on every
 * request, so a deleted user, one removed from Administrators or one whose password changed (the
 * session holds a keyed digest of the password hash it was opened with) is refused on the next request.
 * Idle time is judged from this node's memory and, before a session is refused as idle, from the
 * database, where last_seen_at is written at most once a minute per session.
 */
export class ConsoleSessions {
  readonly idleMs: number;
  readonly lifetimeMs: number;
  private readonly digestKey: string;
  private readonly csrfKey: string;
  private readonly credentialKey: string;
  /** During a server key rotation: the previous key's derived keys, to adopt sessions opened under it. */
  private readonly previous: { digestKey: string; csrfKey: string; credentialKey: string } | undefined;
  private readonly known = new LRUCache<string, Known>({ max: 10_000 });

  constructor(
    private readonly db: Kysely<Database>,
    serverKey: Buffer,
    private readonly directory: UserDirectory,
    private readonly changes: ChangeFeed,
    private readonly clock: Clock,
    private readonly log: Logger,
    options: SessionOptions,
    previousKey?: Buffer,
  ) {
    this.idleMs = options.idleMs;
    this.lifetimeMs = options.lifetimeMs;
    ({
      digestKey: this.digestKey,
      csrfKey: this.csrfKey,
      credentialKey: this.credentialKey,
    } = sessionKeys(serverKey));
    this.previous = previousKey ? sessionKeys(previousKey) : undefined;
    changes.subscribe((change) => {
      if (change.kind !== SESSION_CHANGE) return;
      if (change.key === undefined) this.known.clear();
      else this.known.delete(change.key);
    });
  }

  /** The CSRF token of a session: the console sends it in X-CSRF-Token on every request. */
  csrfToken(id: string): string {
    return hmac(this.csrfKey, id);
  }

  /** Whether a token is the CSRF token of a session (constant time). */
  csrfMatches(id: string, token: string | undefined): boolean {
    if (token === undefined) return false;
    if (safeEqual(token, this.csrfToken(id))) return true;
    // A console signed in on a node still on the previous server key keeps its token during a rotation.
    return this.previous !== undefined && safeEqual(token, hmac(this.previous.csrfKey, id));
  }

  /** Opens a session for a user whose password has just been verified; answers its id (shown once). */
  async create(user: UserRecord): Promise<{ id: string; session: LiveSession }> {
    const id = randomToken(32);
    const digest = this.digest(id);
    const now = this.clock.now();
    const credential = this.credentialOf(user.passwordHash);
    const expiresAt = now + this.lifetimeMs;
    await this.db
      .insertInto("console_sessions")
      .values({
        digest,
        username: user.username,
        credential,
        created_at: now,
        last_seen_at: now,
        expires_at: expiresAt,
      })
      .execute();
    this.known.set(digest, {
      username: user.username,
      credential,
      createdAt: now,
      expiresAt,
      lastSeenAt: now,
      writtenAt: now,
      passwordHash: user.passwordHash,
    });
    const principal = this.directory.principal(user, "session");
    return { id, session: { username: user.username, principal, createdAt: now, expiresAt } };
  }

  /**
   * The live session from memory alone (no I/O), or undefined when the slow path must decide: unknown
   * here, idle by this node's memory, its last-seen due to be written, or its user not cached.
   */
  peek(id: string): LiveSession | undefined {
    const digest = this.digest(id);
    const known = this.known.get(digest);
    if (!known) return undefined;
    const now = this.clock.now();
    if (
      now >= known.expiresAt ||
      now - known.lastSeenAt >= this.idleMs ||
      now - known.writtenAt >= TOUCH_INTERVAL_MS
    )
      return undefined;
    const user = this.directory.peek(known.username);
    if (!user || user.passwordHash !== known.passwordHash) return undefined;
    const principal = this.directory.principal(user, "session");
    if (!isAdministrator(principal)) return undefined;
    known.lastSeenAt = now;
    return { username: user.username, principal, createdAt: known.createdAt, expiresAt: known.expiresAt };
  }

  /**
   * The live session of an id, touched (its idle time starts again), or undefined when there is none:
   * unknown, ended, idle, past its lifetime, or its user gone, out of Administrators or with a new
   * password. A session refused for any of these reasons is deleted.
   */
  async verify(id: string): Promise<LiveSession | undefined> {
    const digest = this.digest(id);
    const now = this.clock.now();
    let known = this.known.get(digest);
    if (!known || now - known.lastSeenAt >= this.idleMs) {
      // Not known here, or idle as far as this node knows: the database may know of activity elsewhere.
      known = (await this.load(digest, known)) ?? (await this.adopt(id, digest));
      if (!known) return undefined;
    }
    if (now >= known.expiresAt) return this.refuse(digest, known, "expired");
    if (now - known.lastSeenAt >= this.idleMs) return this.refuse(digest, known, "idle");
    const user = await this.directory.get(known.username);
    if (!user) return this.refuse(digest, known, "user_deleted");
    if (user.passwordHash !== known.passwordHash) {
      if (!safeEqual(this.credentialOf(user.passwordHash), known.credential))
        return this.refuse(digest, known, "password_changed");
      known.passwordHash = user.passwordHash;
    }
    const principal = this.directory.principal(user, "session");
    if (!isAdministrator(principal)) return this.refuse(digest, known, "not_administrator");
    if (now - known.writtenAt >= TOUCH_INTERVAL_MS && !(await this.touch(digest, known, now)))
      return undefined;
    known.lastSeenAt = Math.max(known.lastSeenAt, now);
    return { username: user.username, principal, createdAt: known.createdAt, expiresAt: known.expiresAt };
  }

  /** Ends a session on every node; answers the username it belonged to, if it existed. */
  async end(id: string): Promise<string | undefined> {
    const username = await this.remove(this.digest(id));
    if (username !== undefined || !this.previous) return username;
    return this.remove(hmac(this.previous.digestKey, id));
  }

  /** Deletes the sessions that are past their lifetime or idle; answers how many. */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    const result = await this.db
      .deleteFrom("console_sessions")
      .where((eb) =>
        eb.or([
          eb("expires_at", "<=", now),
          // last_seen_at may lag behind the latest activity by up to a touch interval.
          eb("last_seen_at", "<=", now - this.idleMs - TOUCH_INTERVAL_MS),
        ]),
      )
      .executeTakeFirst();
    const removed = Number(result.numDeletedRows);
    if (removed > 0)
      this.log.info({ event: "console_sessions_swept", removed }, "expired console sessions deleted");
    return removed;
  }

  /** Sweeps now and then (an unref'd timer); answers the function that stops it. */
  startSweep(intervalMs = SWEEP_INTERVAL_MS): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.sweep()
        .catch((err: unknown) =>
          this.log.warn({ event: "console_session_sweep_failed", err }, "console session sweep failed"),
        )
        .finally(() => (running = false));
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private digest(id: string): string {
    return hmac(this.digestKey, id);
  }

  private credentialOf(passwordHash: string): string {
    return hmac(this.credentialKey, passwordHash);
  }

  /** The stored session, merged with what this node knew of it; undefined (and forgotten) when gone. */
  private async load(digest: string, previous: Known | undefined): Promise<Known | undefined> {
    const row = await this.db
      .selectFrom("console_sessions")
      .selectAll()
      .where("digest", "=", digest)
      .executeTakeFirst();
    if (!row) {
      this.known.delete(digest);
      return undefined;
    }
    const known: Known = {
      username: row.username,
      credential: row.credential,
      createdAt: Number(row.created_at),
      expiresAt: Number(row.expires_at),
      lastSeenAt: Math.max(Number(row.last_seen_at), previous?.lastSeenAt ?? 0),
      writtenAt: Math.max(Number(row.last_seen_at), previous?.writtenAt ?? 0),
      passwordHash: previous?.credential === row.credential ? previous.passwordHash : undefined,
    };
    this.known.set(digest, known);
    return known;
  }

  /**
   * Server key rotation: a session opened under the previous key (CONDUIT_SECRET_KEY_PREVIOUS) is moved
   * to the current one on its first request here: its row is stored again under the current digest, with
   * its credential re-keyed if it still matches the user's password hash (else the session is ended).
   */
  private async adopt(id: string, digest: string): Promise<Known | undefined> {
    if (!this.previous) return undefined;
    const old = hmac(this.previous.digestKey, id);
    const row = await this.db
      .selectFrom("console_sessions")
      .selectAll()
      .where("digest", "=", old)
      .executeTakeFirst();
    if (!row) return undefined;
    const user = await this.directory.get(row.username);
    if (!user || !safeEqual(hmac(this.previous.credentialKey, user.passwordHash), row.credential)) {
      await this.remove(old);
      return undefined;
    }
    const moved = await this.db
      .updateTable("console_sessions")
      .set({ digest, credential: this.credentialOf(user.passwordHash) })
      .where("digest", "=", old)
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) === 0) return undefined;
    this.changes.publish({ kind: SESSION_CHANGE, key: old });
    this.log.info(
      { event: "console_session_rekeyed", username: row.username },
      "console session moved to the current server key",
    );
    return this.load(digest, undefined);
  }

  /** Writes last_seen_at; false when the session no longer exists (ended on another node). */
  private async touch(digest: string, known: Known, now: number): Promise<boolean> {
    // Set first: requests in parallel do not all write.
    known.writtenAt = now;
    const result = await this.db
      .updateTable("console_sessions")
      .set({ last_seen_at: now })
      .where("digest", "=", digest)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) > 0) return true;
    this.known.delete(digest);
    return false;
  }

  private async refuse(digest: string, known: Known, reason: string): Promise<undefined> {
    await this.remove(digest);
    this.log.info(
      { event: "console_session_ended", username: known.username, reason },
      `console session of ${known.username} ended (${reason})`,
    );
    return undefined;
  }

  private async remove(digest: string): Promise<string | undefined> {
    this.known.delete(digest);
    const rows = await this.db
      .deleteFrom("console_sessions")
      .where("digest", "=", digest)
      .returning("username")
      .execute();
    this.changes.publish({ kind: SESSION_CHANGE, key: digest });
    return rows[0]?.username;
  }
}

function sessionKeys(serverKey: Buffer) {
  return {
    digestKey: hmac(serverKey, "conduit console: session digests"),
    csrfKey: hmac(serverKey, "conduit console: csrf tokens"),
    credentialKey: hmac(serverKey, "conduit console: session credentials"),
  };
}

/** The session id in a Cookie header (RFC 6265 §5.4), or undefined when there is none of our shape. */
export function sessionIdOf(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  for (const pair of cookieHeader.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || pair.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = pair.slice(eq + 1).trim();
    if (SESSION_ID.test(value)) return value;
  }
  return undefined;
}

/**
 * Whether a request comes from another site: Sec-Fetch-Site says so, or it carries an Origin that is
 * not this server's own (its public URL, or the scheme and Host the request came with).
 */
export function isCrossSite(
  request: Pick<AuthRequest, "origin" | "fetchSite" | "host" | "tls">,
  ownOrigins: readonly string[],
): boolean {
  if (request.fetchSite?.trim().toLowerCase() === "cross-site") return true;
  const origin = request.origin;
  if (origin === undefined) return false;
  if (ownOrigins.includes(origin)) return false;
  return request.host === undefined || origin !== `${request.tls ? "https" : "http"}://${request.host}`;
}

export function noSession(message = "no console session; sign in again"): UnauthorizedError {
  return new UnauthorizedError(message, SESSION_CHALLENGE, "no_session");
}

export function csrfFailed(message: string): ForbiddenError {
  return new ForbiddenError(message, "csrf_failed");
}

/**
 * The console session in the authentication chain, after Basic and Bearer: a valid `conduit_session`
 * cookie counts only together with its CSRF token in X-CSRF-Token, on every method, and never from
 * another site. A request without a Cookie header costs one property check.
 */
export class SessionAuthenticator implements Authenticator {
  readonly scheme = "session";
  /** Not offered to anonymous requests (scripts get Basic and Bearer); the console's 401s carry it. */
  readonly challenge = undefined;

  constructor(
    private readonly sessions: ConsoleSessions,
    private readonly ownOrigins: readonly string[],
  ) {}

  cached(request: AuthRequest): Principal | undefined {
    if (request.cookie === undefined) return undefined;
    const id = sessionIdOf(request.cookie);
    if (id === undefined || !this.allowed(request, id)) return undefined;
    return this.sessions.peek(id)?.principal;
  }

  async authenticate(request: AuthRequest): Promise<Principal | null> {
    const id = request.cookie === undefined ? undefined : sessionIdOf(request.cookie);
    if (id === undefined) {
      // The console's own requests carry the token: its session has gone (the cookie was cleared).
      if (request.csrfToken !== undefined) throw noSession();
      return null;
    }
    if (isCrossSite(request, this.ownOrigins))
      throw csrfFailed("the console session is not accepted from another site");
    if (!this.sessions.csrfMatches(id, request.csrfToken))
      throw csrfFailed(
        request.csrfToken === undefined
          ? "a request with the console session cookie needs the X-CSRF-Token header"
          : "the X-CSRF-Token header does not match the console session",
      );
    const session = await this.sessions.verify(id);
    if (!session) throw noSession();
    return session.principal;
  }

  private allowed(request: AuthRequest, id: string): boolean {
    return !isCrossSite(request, this.ownOrigins) && this.sessions.csrfMatches(id, request.csrfToken);
  }
}
