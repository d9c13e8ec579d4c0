import type { Kysely, Selectable } from "kysely";
import type { Database } from "../storage/schema.js";
import type { OAuthTokensTable } from "./schema.js";

export type TokenKind = "access" | "refresh";

export interface TokenRecord {
  id: string;
  /** SHA-256 of the token value; the value itself is never stored. */
  digest: string;
  kind: TokenKind;
  clientId: string;
  username: string | undefined;
  scopes: string[];
  grantId: string;
  issuedAt: number;
  expiresAt: number | undefined;
  revokedAt: number | undefined;
  refreshCount: number;
  rotatedAt: number | undefined;
  /** RFC 8705 §3.1: the x5t#S256 of the client certificate the token is bound to. */
  certificateThumbprint?: string | undefined;
}

/** A token together with whether its client is still enabled (one query on the request path). */
export interface TokenWithClient extends TokenRecord {
  clientEnabled: boolean;
}

export interface TokenFilter {
  clientId?: string;
  user?: string;
  /** Only tokens neither expired nor revoked (true), or only those that are (false). */
  active?: boolean;
  limit?: number;
}

export interface TokenRepository {
  insert(tokens: TokenRecord[]): Promise<void>;
  findByDigest(digest: string): Promise<TokenWithClient | undefined>;
  get(id: string): Promise<TokenRecord | undefined>;
  list(filter: TokenFilter, now: number): Promise<TokenRecord[]>;
  revoke(id: string, now: number): Promise<boolean>;
  /** Revokes every token of a grant (a token family); answers how many were revoked now. */
  revokeGrant(grantId: string, now: number): Promise<number>;
  /**
   * Marks a refresh token as exchanged, atomically: true for the one caller that rotated it, false when it
   * was already rotated or revoked.
   */
  markRotated(id: string, now: number): Promise<boolean>;
  /** Revokes every token of a resource owner (a deleted user); answers how many were revoked now. */
  revokeUser(username: string, now: number): Promise<number>;
  /** Deletes tokens expired before `now`; answers how many. */
  deleteExpired(now: number): Promise<number>;
}

export class KyselyTokenRepository implements TokenRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(tokens: TokenRecord[]): Promise<void> {
    if (tokens.length === 0) return;
    await this.db.insertInto("oauth_tokens").values(tokens.map(toRow)).execute();
  }

  async findByDigest(digest: string): Promise<TokenWithClient | undefined> {
    const row = await this.db
      .selectFrom("oauth_tokens as t")
      .innerJoin("oauth_clients as c", "c.client_id", "t.client_id")
      .selectAll("t")
      .select("c.enabled")
      .where("t.digest", "=", digest)
      .executeTakeFirst();
    return row ? { ...toRecord(row), clientEnabled: Number(row.enabled) === 1 } : undefined;
  }

  async get(id: string): Promise<TokenRecord | undefined> {
    const row = await this.db.selectFrom("oauth_tokens").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async list(filter: TokenFilter, now: number): Promise<TokenRecord[]> {
    let query = this.db.selectFrom("oauth_tokens").selectAll();
    if (filter.clientId !== undefined) query = query.where("client_id", "=", filter.clientId);
    if (filter.user !== undefined) query = query.where("username", "=", filter.user);
    if (filter.active === true)
      query = query
        .where("revoked_at", "is", null)
        .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]));
    if (filter.active === false)
      query = query.where((eb) => eb.or([eb("revoked_at", "is not", null), eb("expires_at", "<=", now)]));
    const rows = await query
      .orderBy("issued_at", "desc")
      .orderBy("id")
      .limit(filter.limit ?? 1000)
      .execute();
    return rows.map(toRecord);
  }

  async revoke(id: string, now: number): Promise<boolean> {
    return (await this.revokeWhere("id", id, now)) > 0;
  }

  revokeGrant(grantId: string, now: number): Promise<number> {
    return this.revokeWhere("grant_id", grantId, now);
  }

  revokeUser(username: string, now: number): Promise<number> {
    return this.revokeWhere("username", username, now);
  }

  /** Revokes the tokens not yet revoked whose `column` is `value`; answers how many. */
  private async revokeWhere(
    column: "id" | "grant_id" | "username",
    value: string,
    now: number,
  ): Promise<number> {
    const result = await this.db
      .updateTable("oauth_tokens")
      .set({ revoked_at: now })
      .where(column, "=", value)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async markRotated(id: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable("oauth_tokens")
      .set({ rotated_at: now })
      .where("id", "=", id)
      .where("rotated_at", "is", null)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async deleteExpired(now: number): Promise<number> {
    const result = await this.db
      .deleteFrom("oauth_tokens")
      .where("expires_at", "is not", null)
      .where("expires_at", "<=", now)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

const splitScopes = (text: string): string[] => (text === "" ? [] : text.split(" "));

function toRecord(row: Selectable<OAuthTokensTable>): TokenRecord {
  return {
    id: row.id,
    digest: row.digest,
    kind: row.kind === "refresh" ? "refresh" : "access",
    clientId: row.client_id,
    username: row.username ?? undefined,
    scopes: splitScopes(row.scopes),
    grantId: row.grant_id,
    issuedAt: Number(row.issued_at),
    expiresAt: row.expires_at === null ? undefined : Number(row.expires_at),
    revokedAt: row.revoked_at === null ? undefined : Number(row.revoked_at),
    refreshCount: Number(row.refresh_count),
    rotatedAt: row.rotated_at === null ? undefined : Number(row.rotated_at),
    certificateThumbprint: row.cnf_x5t_s256 ?? undefined,
  };
}

export function toRow(token: TokenRecord): OAuthTokensTable {
  return {
    id: token.id,
    digest: token.digest,
    kind: token.kind,
    client_id: token.clientId,
    username: token.username ?? null,
    scopes: token.scopes.join(" "),
    grant_id: token.grantId,
    issued_at: token.issuedAt,
    expires_at: token.expiresAt ?? null,
    revoked_at: token.revokedAt ?? null,
    refresh_count: token.refreshCount,
    rotated_at: token.rotatedAt ?? null,
    cnf_x5t_s256: token.certificateThumbprint ?? null,
  };
}
