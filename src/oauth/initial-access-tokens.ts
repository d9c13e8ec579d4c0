import type { Kysely, Selectable } from "kysely";
import type { Database } from "../storage/schema.js";
import type { OAuthInitialAccessTokensTable } from "./schema.js";

/** RFC 7591 §3: an initial access token that lets one dynamic registration through. */
export interface InitialAccessTokenRecord {
  id: string;
  digest: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | undefined;
  usedByClient: string | undefined;
}

export interface InitialAccessTokenRepository {
  insert(token: InitialAccessTokenRecord): Promise<void>;
  list(): Promise<InitialAccessTokenRecord[]>;
  get(digest: string): Promise<InitialAccessTokenRecord | undefined>;
  /** Uses a token atomically: true for exactly one caller while it is unexpired and unused. */
  use(digest: string, clientId: string, now: number): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  deleteExpired(now: number): Promise<number>;
}

export class KyselyInitialAccessTokenRepository implements InitialAccessTokenRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(token: InitialAccessTokenRecord): Promise<void> {
    await this.db
      .insertInto("oauth_initial_access_tokens")
      .values({
        id: token.id,
        digest: token.digest,
        created_by: token.createdBy,
        created_at: token.createdAt,
        expires_at: token.expiresAt,
        used_at: null,
        used_by_client: null,
      })
      .execute();
  }

  async list(): Promise<InitialAccessTokenRecord[]> {
    const rows = await this.db
      .selectFrom("oauth_initial_access_tokens")
      .selectAll()
      .orderBy("created_at", "desc")
      .execute();
    return rows.map(toRecord);
  }

  async get(digest: string): Promise<InitialAccessTokenRecord | undefined> {
    const row = await this.db
      .selectFrom("oauth_initial_access_tokens")
      .selectAll()
      .where("digest", "=", digest)
      .executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async use(digest: string, clientId: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable("oauth_initial_access_tokens")
      .set({ used_at: now, used_by_client: clientId })
      .where("digest", "=", digest)
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom("oauth_initial_access_tokens")
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async deleteExpired(now: number): Promise<number> {
    const result = await this.db
      .deleteFrom("oauth_initial_access_tokens")
      .where("expires_at", "<=", now)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function toRecord(row: Selectable<OAuthInitialAccessTokensTable>): InitialAccessTokenRecord {
  return {
    id: row.id,
    digest: row.digest,
    createdBy: row.created_by,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    usedAt: row.used_at === null ? undefined : Number(row.used_at),
    usedByClient: row.used_by_client ?? undefined,
  };
}
