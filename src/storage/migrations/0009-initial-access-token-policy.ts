import type { Kysely } from "kysely";

// Frozen in time: migrations never import application code.
// Issue 12, part 2: an initial access token carries a policy (the run-as user of the clients it registers,
// the scopes and grant types a registration may ask for, how many registrations it allows), and counts its
// uses. Each registration made with a token is kept with the policy it was made under, so that an RFC 7592
// update of that client stays within it. Tokens made before keep the old behaviour: no run-as user, any
// scope, authorization_code and refresh_token, one use (already spent when used_at is set).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("oauth_initial_access_tokens")
    .addColumn("run_as_user", "varchar(255)")
    .execute();
  // JSON arrays; null: no restriction (scopes) or the default grants (grant_types).
  await db.schema.alterTable("oauth_initial_access_tokens").addColumn("scopes", "text").execute();
  await db.schema.alterTable("oauth_initial_access_tokens").addColumn("grant_types", "text").execute();
  await db.schema
    .alterTable("oauth_initial_access_tokens")
    .addColumn("max_uses", "integer", (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema
    .alterTable("oauth_initial_access_tokens")
    .addColumn("use_count", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db
    .updateTable("oauth_initial_access_tokens")
    .set({ use_count: 1 })
    .where("used_at", "is not", null)
    .execute();

  await db.schema
    .createTable("oauth_registrations")
    .addColumn("client_id", "varchar(255)", (c) => c.primaryKey())
    .addColumn("token_id", "varchar(64)", (c) => c.notNull())
    .addColumn("scopes", "text")
    .addColumn("grant_types", "text")
    .addColumn("registered_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("oauth_registrations_token")
    .on("oauth_registrations")
    .column("token_id")
    .execute();
}
