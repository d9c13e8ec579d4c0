import type { Clock } from "../kernel/clock.js";
import { tokenDigest } from "./ids.js";
import type { ActiveToken, TokenVerifier } from "../resource/types.js";
import type { SigningKeys } from "./signing-keys.js";
import type { TokenRepository, TokenWithClient } from "./tokens.js";

/** Largest JWT access token looked at (an RS256 one with many scopes is a few kB). */
const MAX_JWT_LENGTH = 8192;

/**
 * This server's access tokens on /invoke: looked up by digest (through the token store's cache, which
 * every revocation and client change drops), joined with the client's `enabled` flag. A JWT access token (RFC 9068) is first verified locally (signature by
 * a published key, `typ`, `iss`, `exp`), then looked up the same way: its row is what revocation marks.
 */
export class LocalTokenVerifier implements TokenVerifier {
  constructor(
    private readonly tokens: TokenRepository,
    private readonly clock: Clock,
    /**
     * Until when an answer may be reused on its connection without a look-up (any change on the change
     * feed forgets it sooner): SQLite, where every revocation happens in this process, until the token
     * expires; PostgreSQL, while the token store vouches for the row it read (TokenStore.cachedUntil);
     * undefined, never.
     */
    private readonly reusableUntil: (token: TokenWithClient) => number | undefined = () => undefined,
    private readonly jwt?: { keys: SigningKeys; issuer: string },
  ) {}

  async verify(value: string): Promise<ActiveToken | undefined> {
    // Opaque tokens are base64url (no dots); a JWS compact serialization has two.
    const isJwt = value.includes(".");
    if (value.length > (isJwt ? MAX_JWT_LENGTH : 512)) return undefined;
    let jti: unknown;
    if (isJwt) {
      const claims = this.jwt && (await this.jwt.keys.verify(value, this.jwt.issuer));
      if (!claims) return undefined;
      jti = claims.jti;
    }
    const token = await this.tokens.findByDigest(tokenDigest(value));
    if (token && isJwt && token.id !== jti) return undefined;
    if (!token || token.kind !== "access" || token.revokedAt !== undefined || !token.clientEnabled)
      return undefined;
    if (token.expiresAt !== undefined && token.expiresAt <= this.clock.now()) return undefined;
    if (token.username === undefined) return undefined;
    return {
      scopes: token.scopes,
      runAs: token.username,
      clientId: token.clientId,
      subject: token.username,
      ...(token.expiresAt === undefined ? {} : { expiresAt: token.expiresAt }),
      server: "local",
      ...(token.certificateThumbprint === undefined
        ? {}
        : { certificateThumbprint: token.certificateThumbprint }),
      ...reuse(this.reusableUntil(token)),
    };
  }
}

const reuse = (until: number | undefined) => (until === undefined ? {} : { reusableUntil: until });
