import type { Kysely } from "kysely";

// Frozen in time: migrations never import application code.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("external_servers")
    .addColumn("name", "varchar(255)", (c) => c.primaryKey())
    .addColumn("introspection_endpoint", "text", (c) => c.notNull())
    .addColumn("client_id", "text", (c) => c.notNull())
    // AES-256-GCM sealed with the server key (SecretBox), never the clear secret.
    .addColumn("client_secret", "text", (c) => c.notNull())
    .addColumn("run_as", "varchar(255)")
    .addColumn("subject_claim", "varchar(255)")
    .addColumn("cache_ttl_seconds", "integer", (c) => c.notNull())
    .addColumn("inactive_cache_ttl_seconds", "integer", (c) => c.notNull())
    .addColumn("stale_if_error_seconds", "integer", (c) => c.notNull())
    .addColumn("timeout_ms", "integer", (c) => c.notNull())
    .addColumn("issuer", "text")
    .addColumn("jwks_uri", "text")
    .addColumn("audience", "text")
    .addColumn("discovery_url", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
}
