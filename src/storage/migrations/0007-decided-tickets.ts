import type { Kysely } from "kysely";

// Frozen in time: migrations never import application code.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // Approval forms already decided (issue 11): one row per decided ticket, by digest, until the ticket
  // would have expired, so that a replay is refused on every node sharing the database.
  await db.schema
    .createTable("oauth_decided_tickets")
    .addColumn("digest", "varchar(64)", (c) => c.primaryKey())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("oauth_decided_tickets_expires")
    .on("oauth_decided_tickets")
    .column("expires_at")
    .execute();
}
