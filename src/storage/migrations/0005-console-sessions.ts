import type { Kysely } from "kysely";

// Frozen in time: migrations never import application code.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // Admin console sessions (issue 8). The session id itself is never stored: only its keyed digest.
  // `credential` is a keyed digest of the password hash the user signed in with, so a password change
  // ends the session; deleting the user deletes its sessions.
  await db.schema
    .createTable("console_sessions")
    .addColumn("digest", "varchar(64)", (c) => c.primaryKey())
    .addColumn("username", "varchar(255)", (c) =>
      c.notNull().references("users.username").onDelete("cascade"),
    )
    .addColumn("credential", "varchar(64)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("last_seen_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("console_sessions_user").on("console_sessions").column("username").execute();
  await db.schema
    .createIndex("console_sessions_expiry")
    .on("console_sessions")
    .column("expires_at")
    .execute();
}
