import type { Kysely } from "kysely";

// Frozen in time: migrations never import application code.
// Issue 11: the circuit breaker's threshold and open time are settings of each external server; the
// defaults are the values that were constants before (3 timeouts in a row, open for 5 s).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("external_servers")
    .addColumn("breaker_threshold", "integer", (c) => c.notNull().defaultTo(3))
    .execute();
  await db.schema
    .alterTable("external_servers")
    .addColumn("breaker_open_seconds", "integer", (c) => c.notNull().defaultTo(5))
    .execute();
}
