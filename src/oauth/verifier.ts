import type { Clock } from "../kernel/clock.js";
import { sha256 } from "../kernel/crypto.js";
import type { ActiveToken, TokenVerifier } from "../resource/types.js";
import type { TokenRepository } from "./tokens.js";

/**
 * This server's access tokens on /invoke. One indexed lookup by digest per request, joined with the
 * client's `enabled` flag, so a revocation or a disabled client takes effect on the very next request
 * (no positive answers are cached).
 */
export class LocalTokenVerifier implements TokenVerifier {
  constructor(
    private readonly tokens: TokenRepository,
    private readonly clock: Clock,
    /** True where every revocation happens in this process and is published on its change feed (SQLite). */
    private readonly reusable = false,
  ) {}

  async verify(value: string): Promise<ActiveToken | undefined> {
    if (value.length > 512) return undefined;
    const token = await this.tokens.findByDigest(sha256(value));
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
      // Valid until it expires, unless revoked, and every revocation here is published on the change feed.
      ...(this.reusable ? { reusableUntil: token.expiresAt ?? Number.MAX_SAFE_INTEGER } : {}),
    };
  }
}
