import type { Kysely } from "kysely";

// Frozen in time: migrations never import application code.
// A client deleted through the admin API (or console, or CLI) used to leave the record of its dynamic
// registration behind; deleting a client now deletes it too. This drops the records left so far.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db
    .deleteFrom("oauth_registrations")
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom("oauth_clients as c")
            .select("c.client_id")
            .whereRef("c.client_id", "=", "oauth_registrations.client_id"),
        ),
      ),
    )
    .execute();
}
