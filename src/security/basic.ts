import { LRUCache } from "lru-cache";
import type { Logger } from "../kernel/logger.js";
import { UnauthorizedError } from "../kernel/errors.js";
import { keyedDigest, verifyPassword } from "../kernel/crypto.js";
import type { Authenticator, AuthRequest } from "./authentication.js";
import { parseAuthorization } from "./authentication.js";
import type { UserDirectory } from "./directory.js";
import type { Principal } from "./principal.js";
import type { UserRecord } from "../storage/repositories/users.js";
import { sleep, type LoginThrottle } from "./throttle.js";

/** What every Basic header starts with (parseAuthorization: trimmed, the scheme case-insensitive, then spaces). */
const BASIC_SCHEME = /^\s*basic +/i;

export const REALM = "Conduit";
/** The longest username the admin API accepts. */
const MAX_USERNAME = 255;
const DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/**
 * HTTP Basic (RFC 7617) against Conduit's users. A verified username/password pair is remembered as a
 * keyed digest of the pair together with the password hash it matched: a correct password costs one
 * scrypt only the first time, and the moment the user's password changes (a new hash) or the user is
 * deleted, the remembered pair no longer matches anything.
 */
export class BasicAuthenticator implements Authenticator {
  readonly scheme = "basic";
  readonly challenge = `Basic realm="${REALM}", charset="UTF-8"`;
  private readonly verified = new LRUCache<string, string>({ max: 50_000, ttl: 15 * 60_000 });

  constructor(
    private readonly directory: UserDirectory,
    private readonly throttle: LoginThrottle,
    private readonly key: Buffer,
    private readonly log: Logger,
  ) {
    this.digestPrefix = key.toString("base64");
  }

  /**
   * The principal for credentials verified before and still current, found without any I/O or hashing
   * beyond one keyed digest; undefined when the slow path must decide (unknown, changed, not cached).
   */
  cached(request: AuthRequest): Principal | undefined {
    // The same keep-alive connection sending the same header again: no decoding, no digest. The proof is
    // tied to the password hash it matched, so a changed password or a deleted user is refused at once.
    const proven = request.connection && this.byConnection.get(request.connection);
    if (proven && proven.header === request.authorization) {
      const user = this.directory.peek(proven.username);
      if (user && user.passwordHash === proven.passwordHash) return this.directory.principal(user, "basic");
    }
    // Another scheme (a bearer token on /invoke) is told apart without parsing the whole header.
    if (request.authorization === undefined || !BASIC_SCHEME.test(request.authorization)) return undefined;
    const parsed = parseAuthorization(request.authorization);
    if (!parsed || parsed.scheme !== "basic") return undefined;
    const credentials = decodeBasic(parsed.value);
    if (!credentials) return undefined;
    const user = this.directory.peek(credentials.username);
    if (
      !user ||
      this.verified.get(this.cacheKey(credentials.username, credentials.password)) !== user.passwordHash
    )
      return undefined;
    this.remember(request, user.username, user.passwordHash);
    return this.directory.principal(user, "basic");
  }

  /**
   * Credentials proved on a connection, kept only as long as the connection lives (a WeakMap on the
   * socket): the header is already in memory for that connection's requests anyway.
   */
  private readonly byConnection = new WeakMap<
    object,
    { header: string; username: string; passwordHash: string }
  >();

  private remember(request: AuthRequest, username: string, passwordHash: string): void {
    if (request.connection && request.authorization)
      this.byConnection.set(request.connection, { header: request.authorization, username, passwordHash });
  }

  private cacheKey(username: string, password: string): string {
    return keyedDigest(this.digestPrefix, `${username}\u0000${password}`);
  }

  private readonly digestPrefix: string;

  async authenticate(request: AuthRequest): Promise<Principal | null> {
    const parsed = parseAuthorization(request.authorization);
    if (!parsed || parsed.scheme !== "basic") return null;
    const credentials = decodeBasic(parsed.value);
    if (!credentials) throw this.refuse("malformed Basic credentials");
    const user = await this.verifyUser(credentials.username, credentials.password, request.ip);
    if (!user) throw this.refuse("invalid username or password");
    this.remember(request, user.username, user.passwordHash);
    return this.directory.principal(user, "basic");
  }

  /** Checks a username and password (also used by the login form of the authorization endpoint). */
  async verify(username: string, password: string, ip: string): Promise<Principal | null> {
    const user = await this.verifyUser(username, password, ip);
    return user && this.directory.principal(user, "basic");
  }

  /** The user record the password was checked against (its hash is what a proof is tied to), or null. */
  private async verifyUser(username: string, password: string, ip: string): Promise<UserRecord | null> {
    // Names longer than any stored one cannot match: refuse without hashing, and keep them out of caches.
    if (username.length > MAX_USERNAME) return this.failed(username.slice(0, 64), ip);
    const user = await this.directory.get(username);
    const cacheKey = this.cacheKey(username, password);
    if (user && this.verified.get(cacheKey) === user.passwordHash) return user;

    const release = await this.throttle.acquire(username, ip);
    if (!release) {
      this.log.warn({ event: "login_throttled", username, ip }, "too many login attempts waiting");
      return null;
    }
    let current: UserRecord | undefined;
    let ok: boolean;
    try {
      // While this attempt waited, another may have verified the same credentials: no second hash.
      current = await this.directory.get(username);
      if (current && this.verified.get(cacheKey) === current.passwordHash) return current;
      const delay = this.throttle.delayMs(username, ip);
      if (delay > 0) await sleep(delay);
      // Unknown users cost the same hash as known ones, so timing does not reveal which names exist.
      ok = await verifyPassword(password, current?.passwordHash ?? DUMMY_HASH);
    } finally {
      release();
    }
    if (!current || !ok) return this.failed(username, ip);
    this.throttle.recordSuccess(username);
    this.verified.set(cacheKey, current.passwordHash);
    return current;
  }

  private failed(username: string, ip: string): null {
    this.throttle.recordFailure(username, ip);
    this.log.warn({ event: "login_failed", username, ip }, "authentication failed");
    return null;
  }

  private refuse(message: string): UnauthorizedError {
    return new UnauthorizedError(message, this.challenge);
  }
}

/** RFC 7617 §2: base64 of `user-id ":" password`; the user-id cannot contain a colon. */
export function decodeBasic(value: string): { username: string; password: string } | undefined {
  if (!/^[A-Za-z0-9+/]+=*$/.test(value)) return undefined;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
