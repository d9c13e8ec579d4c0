import type { Kysely } from "kysely";

// Frozen in time: migrations never import application code.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("users")
    .addColumn("username", "varchar(255)", (c) => c.primaryKey())
    .addColumn("password_hash", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("groups")
    .addColumn("name", "varchar(255)", (c) => c.primaryKey())
    .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("user_groups")
    .addColumn("username", "varchar(255)", (c) =>
      c.notNull().references("users.username").onDelete("cascade"),
    )
    .addColumn("group_name", "varchar(255)", (c) => c.notNull().references("groups.name").onDelete("cascade"))
    .addPrimaryKeyConstraint("user_groups_pk", ["username", "group_name"])
    .execute();
  await db.schema
    .createTable("acls")
    .addColumn("name", "varchar(255)", (c) => c.primaryKey())
    .addColumn("allow", "text", (c) => c.notNull())
    .addColumn("deny", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("node_acls")
    .addColumn("node", "varchar(1024)", (c) => c.primaryKey())
    .addColumn("acl", "varchar(255)", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("settings")
    .addColumn("key", "varchar(255)", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
}
