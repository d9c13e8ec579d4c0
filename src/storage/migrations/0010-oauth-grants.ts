import { sql, type Kysely } from "kysely";

// Frozen in time: migrations never import application code.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // One row per grant (token family, issue 11): revocation of a family sets `revoked_at`, token issuance for
  // the grant locks the row in the transaction that writes the tokens, and verification joins it, so a
  // token of a revoked family is never active even if its own row was written after the revocation.
  await db.schema
    .createTable("oauth_grants")
    .addColumn("grant_id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("revoked_at", "bigint")
    .execute();
  // Backfill every existing family. A refresh token is only ever revoked with its whole family (reuse,
  // RFC 7009 revocation of a refresh token, admin revocation, a deleted owner), so a family with a revoked
  // refresh token is a revoked family: this also ends any token that survived the old race.
  await sql`
    insert into oauth_grants (grant_id, revoked_at)
    select grant_id, min(case when kind = 'refresh' then revoked_at end)
    from oauth_tokens
    group by grant_id
  `.execute(db);
}
