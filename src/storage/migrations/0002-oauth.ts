import type { Kysely } from "kysely";

/**
 * The OAuth 2.0 authorization server's tables. Tokens, codes and initial access tokens are stored only as
 * SHA-256 digests; client secrets and registration access tokens only as keyed digests.
 */
// Frozen in time: migrations never import application code.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("oauth_scopes")
    .addColumn("name", "varchar(255)", (c) => c.primaryKey())
    .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("node_values", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("oauth_clients")
    .addColumn("client_id", "varchar(255)", (c) => c.primaryKey())
    .addColumn("client_name", "varchar(255)", (c) => c.notNull())
    .addColumn("version", "varchar(255)", (c) => c.notNull())
    .addColumn("type", "varchar(32)", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("redirect_uris", "text", (c) => c.notNull())
    .addColumn("grant_types", "text", (c) => c.notNull())
    .addColumn("scopes", "text", (c) => c.notNull())
    .addColumn("access_token_lifetime", "bigint")
    .addColumn("refresh_limit", "bigint")
    .addColumn("run_as_user", "varchar(255)")
    .addColumn("enabled", "integer", (c) => c.notNull())
    .addColumn("secret_digest", "varchar(255)")
    .addColumn("previous_secret_digest", "varchar(255)")
    .addColumn("previous_secret_expires_at", "bigint")
    .addColumn("registration_token_digest", "varchar(255)")
    .addColumn("metadata", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("oauth_clients_name_version", ["client_name", "version"])
    .execute();

  await db.schema
    .createTable("oauth_tokens")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("digest", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("kind", "varchar(16)", (c) => c.notNull())
    .addColumn("client_id", "varchar(255)", (c) => c.notNull())
    .addColumn("username", "varchar(255)")
    .addColumn("scopes", "text", (c) => c.notNull())
    .addColumn("grant_id", "varchar(64)", (c) => c.notNull())
    .addColumn("issued_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint")
    .addColumn("revoked_at", "bigint")
    .addColumn("refresh_count", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("rotated_at", "bigint")
    .execute();
  await db.schema.createIndex("oauth_tokens_grant").on("oauth_tokens").column("grant_id").execute();
  await db.schema.createIndex("oauth_tokens_client").on("oauth_tokens").column("client_id").execute();
  await db.schema.createIndex("oauth_tokens_expiry").on("oauth_tokens").column("expires_at").execute();

  await db.schema
    .createTable("oauth_codes")
    .addColumn("digest", "varchar(64)", (c) => c.primaryKey())
    .addColumn("client_id", "varchar(255)", (c) => c.notNull())
    .addColumn("username", "varchar(255)", (c) => c.notNull())
    .addColumn("redirect_uri", "text", (c) => c.notNull())
    .addColumn("redirect_uri_given", "integer", (c) => c.notNull())
    .addColumn("scopes", "text", (c) => c.notNull())
    .addColumn("code_challenge", "varchar(255)")
    .addColumn("grant_id", "varchar(64)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("consumed_at", "bigint")
    .execute();
  await db.schema.createIndex("oauth_codes_expiry").on("oauth_codes").column("expires_at").execute();

  await db.schema
    .createTable("oauth_initial_access_tokens")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("digest", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("created_by", "varchar(255)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .addColumn("used_by_client", "varchar(255)")
    .execute();
}
