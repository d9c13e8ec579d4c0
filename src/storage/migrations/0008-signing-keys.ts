import { sql, type Kysely } from "kysely";

// Frozen in time: migrations never import application code.
// Issue 12: JWT access tokens (RFC 9068). The keys Conduit signs them with (the private key sealed with
// the server key, SecretBox), and the per-client access token format.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("oauth_signing_keys")
    .addColumn("kid", "varchar(64)", (c) => c.primaryKey())
    .addColumn("alg", "varchar(16)", (c) => c.notNull())
    // The public JWK (JSON), as the JWKS publishes it.
    .addColumn("public_jwk", "text", (c) => c.notNull())
    // The private JWK (JSON), sealed with SecretBox (AES-256-GCM); never the clear key.
    .addColumn("private_key", "text", (c) => c.notNull())
    // `current` (signs new tokens; exactly one), `next` (published ahead for the next rotation; at most
    // one) or `previous` (verifies until expires_at).
    .addColumn("state", "varchar(16)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    // When it stopped signing (a rotation), and when it leaves the JWKS.
    .addColumn("retired_at", "bigint")
    .addColumn("expires_at", "bigint")
    .execute();
  // Every node agrees on the one current key: a second `current` (or `next`) row is refused by the database.
  await db.schema
    .createIndex("oauth_signing_keys_one_current")
    .on("oauth_signing_keys")
    .column("state")
    .unique()
    .where(sql<boolean>`state in ('current', 'next')`)
    .execute();
  // null: the global setting accessTokenFormat; else `opaque` or `jwt`.
  await db.schema.alterTable("oauth_clients").addColumn("access_token_format", "varchar(16)").execute();
}
