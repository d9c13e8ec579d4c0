import type { Kysely } from "kysely";

// Frozen in time: migrations never import application code.
// A rotation used to keep the retired signing key's sealed private key; it now erases it (an empty
// string: the column is NOT NULL), as nothing signs with a retired key again. This erases the ones kept.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db
    .updateTable("oauth_signing_keys")
    .set({ private_key: "" })
    .where("state", "=", "previous")
    .execute();
}
