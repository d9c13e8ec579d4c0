import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPostgres, openSqlite, type Storage } from "../../src/storage/database.js";
import { migrateToLatest } from "../../src/storage/migrate.js";
import { freshPostgresDatabase } from "./postgres.js";

export type DatabaseKind = "sqlite" | "postgres";

/**
 * A migrated, empty database of either kind, for repository contract suites: the same suite runs on
 * every implementation (`describe.each(DATABASES)`), and PostgreSQL is never skipped silently.
 */
export async function openTestStorage(
  kind: DatabaseKind,
): Promise<{ storage: Storage; url?: string; cleanup: () => Promise<void> }> {
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "conduit-db-"));
    const storage = openSqlite(join(dir, "test.sqlite"));
    await migrateToLatest(storage.db);
    return {
      storage,
      cleanup: async () => {
        await storage.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const fresh = await freshPostgresDatabase();
  const storage = openPostgres(fresh.url, { max: 4 });
  await migrateToLatest(storage.db);
  return {
    storage,
    url: fresh.url,
    cleanup: async () => {
      await storage.close();
      await fresh.drop();
    },
  };
}
