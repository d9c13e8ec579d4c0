import { sql, type Kysely, type Selectable } from "kysely";
import type { Database } from "../storage/schema.js";
import type { GrantType } from "./clients.js";
import type { OAuthInitialAccessTokensTable, OAuthRegistrationsTable } from "./schema.js";

/**
 * RFC 7591 §3: an initial access token, and the policy an administrator gave it: the run-as user of the
 * clients it registers, the scopes and grant types a registration may ask for, and how many registrations
 * it allows. A token without a policy (made before migration 0009, or with `{}`) registers one client,
 * with no run-as user, any scope, authorization_code and refresh_token.
 */
export interface InitialAccessTokenRecord {
  id: string;
  digest: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  /** The last use. */
  usedAt: number | undefined;
  usedByClient: string | undefined;
  /** The run-as user of the clients it registers (what client_credentials needs). */
  runAsUser?: string | undefined;
  /** The scopes a registration may ask for; undefined: any scope that exists. */
  scopes?: string[] | undefined;
  /** The grant types a registration may ask for; undefined: {@link DEFAULT_GRANTS}. */
  grantTypes?: GrantType[] | undefined;
  /** How many registrations it allows (default 1). */
  maxUses?: number;
  /** How many it has made. */
  useCount?: number;
}

/** What a registration without a policy may ask for (as before policies existed). */
export const DEFAULT_GRANTS: GrantType[] = ["authorization_code", "refresh_token"];

/** The grant types a registration with this token may ask for. */
export const allowedGrants = (token: Pick<InitialAccessTokenRecord, "grantTypes">): GrantType[] =>
  token.grantTypes ?? DEFAULT_GRANTS;

/** The registrations a token has left. */
export const usesLeft = (token: InitialAccessTokenRecord): number =>
  Math.max(0, (token.maxUses ?? 1) - (token.useCount ?? (token.usedAt === undefined ? 0 : 1)));

/** A client registered with an initial access token, and the policy limits it was registered under. */
export interface RegistrationRecord {
  clientId: string;
  tokenId: string;
  scopes: string[] | undefined;
  grantTypes: GrantType[] | undefined;
  registeredAt: number;
}

export interface InitialAccessTokenRepository {
  insert(token: InitialAccessTokenRecord): Promise<void>;
  list(): Promise<InitialAccessTokenRecord[]>;
  get(digest: string): Promise<InitialAccessTokenRecord | undefined>;
  /**
   * Counts one use atomically: true while the token is unexpired and has uses left, so that of callers
   * racing for the last use exactly one gets true.
   */
  use(digest: string, clientId: string, now: number): Promise<boolean>;
  /** Gives back a use counted for a registration that then failed. */
  release(digest: string): Promise<void>;
  delete(id: string): Promise<boolean>;
  deleteExpired(now: number): Promise<number>;
  /** Keeps the link between a registered client and its token (and the policy limits it was made under). */
  recordRegistration(registration: RegistrationRecord): Promise<void>;
  /** The record of a client's registration; deleted with the client (KyselyClientRepository.delete). */
  registration(clientId: string): Promise<RegistrationRecord | undefined>;
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
        used_at: token.usedAt ?? null,
        used_by_client: token.usedByClient ?? null,
        run_as_user: token.runAsUser ?? null,
        scopes: jsonOrNull(token.scopes),
        grant_types: jsonOrNull(token.grantTypes),
        max_uses: token.maxUses ?? 1,
        use_count: token.useCount ?? (token.usedAt === undefined ? 0 : 1),
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
    // One statement: the row lock (PostgreSQL re-checks the WHERE after waiting for it) or SQLite's single
    // writer make the check and the count one step, so the last use goes to exactly one caller.
    const result = await this.db
      .updateTable("oauth_initial_access_tokens")
      .set({ used_at: now, used_by_client: clientId, use_count: sql<number>`use_count + 1` })
      .where("digest", "=", digest)
      .where(sql<boolean>`use_count < max_uses`)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async release(digest: string): Promise<void> {
    await this.db
      .updateTable("oauth_initial_access_tokens")
      .set({ use_count: sql<number>`use_count - 1` })
      .where("digest", "=", digest)
      .where("use_count", ">", 0)
      .execute();
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

  async recordRegistration(registration: RegistrationRecord): Promise<void> {
    await this.db
      .insertInto("oauth_registrations")
      .values({
        client_id: registration.clientId,
        token_id: registration.tokenId,
        scopes: jsonOrNull(registration.scopes),
        grant_types: jsonOrNull(registration.grantTypes),
        registered_at: registration.registeredAt,
      })
      .execute();
  }

  async registration(clientId: string): Promise<RegistrationRecord | undefined> {
    const row = await this.db
      .selectFrom("oauth_registrations")
      .selectAll()
      .where("client_id", "=", clientId)
      .executeTakeFirst();
    return row ? toRegistration(row) : undefined;
  }
}

const jsonOrNull = (list: readonly string[] | undefined): string | null =>
  list === undefined ? null : JSON.stringify(list);

function listOf<T extends string>(text: string | null): T[] | undefined {
  return text === null ? undefined : (JSON.parse(text) as T[]);
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
    runAsUser: row.run_as_user ?? undefined,
    scopes: listOf(row.scopes),
    grantTypes: listOf<GrantType>(row.grant_types),
    maxUses: Number(row.max_uses),
    useCount: Number(row.use_count),
  };
}

function toRegistration(row: Selectable<OAuthRegistrationsTable>): RegistrationRecord {
  return {
    clientId: row.client_id,
    tokenId: row.token_id,
    scopes: listOf(row.scopes),
    grantTypes: listOf<GrantType>(row.grant_types),
    registeredAt: Number(row.registered_at),
  };
}
