import type { Kysely } from "kysely";

// Frozen in time: migrations never import application code.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(_db: Kysely<any>): Promise<void> {
  // filled in by its subsystem
}
