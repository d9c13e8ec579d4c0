import type { Kysely, Selectable } from "kysely";
import type { Database } from "../storage/schema.js";
import type { OAuthCodesTable } from "./schema.js";
import { toRow, type TokenRecord } from "./tokens.js";

export interface CodeRecord {
  /** SHA-256 of the code; the code itself is never stored. */
  digest: string;
  clientId: string;
  username: string;
  redirectUri: string;
  /** Whether redirect_uri was in the authorization request (RFC 6749 §4.1.3 then requires it again). */
  redirectUriGiven: boolean;
  scopes: string[];
  codeChallenge: string | undefined;
  grantId: string;
  createdAt: number;
  expiresAt: number;
  consumedAt: number | undefined;
}

export interface CodeRepository {
  insert(code: CodeRecord): Promise<void>;
  get(digest: string): Promise<CodeRecord | undefined>;
  /** Consumes a code atomically: true for exactly one caller (RFC 6749 §4.1.2 "MUST NOT be used more than once"). */
  consume(digest: string, now: number): Promise<boolean>;
  /**
   * Consumes a code and stores the tokens issued from it in one transaction: true for exactly one caller.
   * A replay that loses the race can therefore only run after the tokens are stored, and its revocation of
   * the grant reaches them (RFC 6749 §4.1.2 "SHOULD revoke … all tokens previously issued").
   */
  redeem(digest: string, now: number, tokens: TokenRecord[]): Promise<boolean>;
  deleteExpired(now: number): Promise<number>;
}

export class KyselyCodeRepository implements CodeRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(code: CodeRecord): Promise<void> {
    await this.db
      .insertInto("oauth_codes")
      .values({
        digest: code.digest,
        client_id: code.clientId,
        username: code.username,
        redirect_uri: code.redirectUri,
        redirect_uri_given: code.redirectUriGiven ? 1 : 0,
        scopes: code.scopes.join(" "),
        code_challenge: code.codeChallenge ?? null,
        grant_id: code.grantId,
        created_at: code.createdAt,
        expires_at: code.expiresAt,
        consumed_at: null,
      })
      .execute();
  }

  async get(digest: string): Promise<CodeRecord | undefined> {
    const row = await this.db
      .selectFrom("oauth_codes")
      .selectAll()
      .where("digest", "=", digest)
      .executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  consume(digest: string, now: number): Promise<boolean> {
    return this.redeem(digest, now, []);
  }

  redeem(digest: string, now: number, tokens: TokenRecord[]): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable("oauth_codes")
        .set({ consumed_at: now })
        .where("digest", "=", digest)
        .where("consumed_at", "is", null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      if (tokens.length > 0) await trx.insertInto("oauth_tokens").values(tokens.map(toRow)).execute();
      return true;
    });
  }

  /**
   * Deletes codes expired long enough ago that a replay can no longer matter: a consumed code is kept
   * until its tokens' family could no longer be revoked through it (its expiry plus a day).
   */
  async deleteExpired(now: number): Promise<number> {
    const result = await this.db
      .deleteFrom("oauth_codes")
      .where("expires_at", "<=", now - 86_400_000)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function toRecord(row: Selectable<OAuthCodesTable>): CodeRecord {
  return {
    digest: row.digest,
    clientId: row.client_id,
    username: row.username,
    redirectUri: row.redirect_uri,
    redirectUriGiven: Number(row.redirect_uri_given) === 1,
    scopes: row.scopes === "" ? [] : row.scopes.split(" "),
    codeChallenge: row.code_challenge ?? undefined,
    grantId: row.grant_id,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    consumedAt: row.consumed_at === null ? undefined : Number(row.consumed_at),
  };
}
