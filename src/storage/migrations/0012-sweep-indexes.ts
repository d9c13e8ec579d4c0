import type { Kysely } from "kysely";

// Frozen in time: migrations never import application code.
// Issue 10: the sweep drops the grant row of a family once none of its tokens or codes remain, asking for
// each family whether a code of it is left: by this index, never by a scan of the codes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("oauth_codes_grant").on("oauth_codes").column("grant_id").execute();
}
