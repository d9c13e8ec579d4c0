import { BadRequestError, NotFoundError } from "../kernel/errors.js";
import type { OAuthServer } from "../oauth/context.js";
import { removeExpired } from "../oauth/sweep.js";
import type { TokenRecord } from "../oauth/tokens.js";
import { audit, type Actor } from "./audit.js";

export interface TokenView {
  id: string;
  /** The client's id, under the contract's name (`clientId` too, the name of the filter). */
  client: string;
  clientId: string;
  owner: string | null;
  scope: string;
  type: "access_token" | "refresh_token";
  grantId: string;
  issued: string;
  expires: string | null;
  revoked: boolean;
  revokedAt: string | null;
  active: boolean;
  /** Refresh tokens: refreshes the family has used. */
  refreshCount?: number;
}

/** `/admin/api/oauth/tokens`: list with filters and revoke. Token values are never shown (only digests are kept). */
export class OAuthTokensAdmin {
  constructor(private readonly server: OAuthServer) {}

  async list(query: Record<string, unknown>): Promise<TokenView[]> {
    const text = (name: string): string | undefined => {
      const value = query[name];
      if (value === undefined) return undefined;
      if (typeof value !== "string" || value.length > 255)
        throw new BadRequestError("invalid_query", `${name} must be given once, as text`, { field: name });
      return value;
    };
    const active = text("active");
    if (active !== undefined && active !== "true" && active !== "false")
      throw new BadRequestError("invalid_query", "active must be true or false", { field: "active" });
    const limitText = text("limit");
    const limit = limitText === undefined ? 1000 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw new BadRequestError("invalid_query", "limit must be an integer from 1 to 10000", {
        field: "limit",
      });
    const clientId = text("clientId");
    const user = text("user");
    const now = this.server.clock.now();
    const tokens = await this.server.tokens.list(
      {
        ...(clientId === undefined ? {} : { clientId }),
        ...(user === undefined ? {} : { user }),
        ...(active === undefined ? {} : { active: active === "true" }),
        limit,
      },
      now,
    );
    return tokens.map((t) => view(t, now));
  }

  /** Revokes one token; a refresh token takes its whole grant with it (RFC 7009 §2.1). */
  async revoke(actor: Actor, id: string): Promise<void> {
    const token = await this.server.tokens.get(id);
    if (!token) throw new NotFoundError("token_not_found", `token ${id} does not exist`);
    const now = this.server.clock.now();
    const count =
      token.kind === "refresh"
        ? await this.server.tokens.revokeGrant(token.grantId, now)
        : Number(await this.server.tokens.revoke(id, now));
    audit(this.server.log, actor, "oauth.token.revoke", id, {
      clientId: token.clientId,
      kind: token.kind,
      count,
    });
  }

  /** pub.oauth:removeExpiredAccessTokens: deletes expired tokens and answers how many. */
  async removeExpired(
    actor: Actor,
  ): Promise<{ removed: number; codes: number; initialAccessTokens: number }> {
    const removed = await removeExpired(this.server);
    audit(this.server.log, actor, "oauth.token.removeExpired", "tokens", { ...removed });
    return {
      removed: removed.tokens,
      codes: removed.codes,
      initialAccessTokens: removed.initialAccessTokens,
    };
  }
}

function view(token: TokenRecord, now: number): TokenView {
  const expired = token.expiresAt !== undefined && token.expiresAt <= now;
  return {
    id: token.id,
    client: token.clientId,
    clientId: token.clientId,
    owner: token.username ?? null,
    scope: token.scopes.join(" "),
    type: token.kind === "access" ? "access_token" : "refresh_token",
    grantId: token.grantId,
    issued: new Date(token.issuedAt).toISOString(),
    expires: token.expiresAt === undefined ? null : new Date(token.expiresAt).toISOString(),
    revoked: token.revokedAt !== undefined,
    revokedAt: token.revokedAt === undefined ? null : new Date(token.revokedAt).toISOString(),
    active:
      !expired &&
      token.revokedAt === undefined &&
      !(token.kind === "refresh" && token.rotatedAt !== undefined),
    ...(token.kind === "refresh" ? { refreshCount: token.refreshCount } : {}),
  };
}
