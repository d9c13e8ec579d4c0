import { Migrator, type Kysely } from "kysely";
import { migrations } from "./migrations/index.js";

/**
 * Brings the schema up to date. Kysely's Migrator holds a lock while it runs (on PostgreSQL a
 * transaction-scoped advisory lock), so several nodes starting at once on one database are safe.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: "conduit_migrations",
    migrationLockTableName: "conduit_migrations_lock",
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error || failed) {
    const reason = error instanceof Error ? error.message : String(error ?? "");
    throw new Error(
      failed ? `migration ${failed.migrationName} failed: ${reason}` : `database migration failed: ${reason}`,
    );
  }
}
