import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Migrator } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres, openSqlite, type Storage } from "../../src/storage/database.js";
import { migrateToLatest } from "../../src/storage/migrate.js";
import { migrations } from "../../src/storage/migrations/index.js";
import { freshPostgresDatabase } from "../support/postgres.js";
import { DATABASES } from "../support/server.js";

/** Migrations that change data, run on a database left by the migrations before them. */
describe.each(DATABASES)("migrations (%s)", (database) => {
  let storage: Storage;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    if (database === "sqlite") {
      const dir = mkdtempSync(join(tmpdir(), "conduit-migrations-"));
      storage = openSqlite(join(dir, "db.sqlite"));
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    } else {
      const fresh = await freshPostgresDatabase();
      storage = openPostgres(fresh.url);
      cleanup = fresh.drop;
    }
  });
  afterAll(async () => {
    await storage?.close();
    await cleanup?.();
  });

  const migrateTo = async (name: string) => {
    const migrator = new Migrator({
      db: storage.db,
      provider: { getMigrations: async () => migrations },
      migrationTableName: "conduit_migrations",
      migrationLockTableName: "conduit_migrations_lock",
    });
    return migrator.migrateTo(name);
  };

  it("0013 drops the registration records of deleted clients, and keeps those of clients that exist", async () => {
    const { error } = await migrateTo("0012-sweep-indexes");
    expect(error).toBeUndefined();
    await storage.db
      .insertInto("oauth_clients")
      .values({
        client_id: "kept",
        client_name: "kept",
        version: "1.0",
        type: "confidential",
        description: "",
        redirect_uris: "[]",
        grant_types: '["client_credentials"]',
        scopes: "[]",
        access_token_lifetime: null,
        refresh_limit: null,
        run_as_user: null,
        enabled: 1,
        secret_digest: "d",
        metadata: "{}",
        created_at: 1,
        updated_at: 1,
      } as never)
      .execute();
    const registration = (clientId: string) => ({
      client_id: clientId,
      token_id: "iat1",
      scopes: null,
      grant_types: null,
      registered_at: 1,
    });
    await storage.db
      .insertInto("oauth_registrations")
      .values([registration("kept"), registration("deleted")])
      .execute();

    expect((await migrateTo("0013-orphan-registrations")).error).toBeUndefined();
    const left = await storage.db.selectFrom("oauth_registrations").select("client_id").execute();
    expect(left.map((row) => row.client_id)).toEqual(["kept"]);
  });

  it("0014 erases the private keys of retired signing keys, and keeps those of the current and next", async () => {
    const key = (kid: string, state: string) => ({
      kid,
      alg: "ES256",
      public_jwk: "{}",
      private_key: `v2.k1.sealed-${kid}`,
      state,
      created_at: 1,
      retired_at: state === "previous" ? 2 : null,
      expires_at: state === "previous" ? 3 : null,
    });
    await storage.db
      .insertInto("oauth_signing_keys")
      .values([key("a", "previous"), key("b", "previous"), key("c", "current"), key("d", "next")])
      .execute();
    await migrateToLatest(storage.db);
    const rows = await storage.db
      .selectFrom("oauth_signing_keys")
      .select(["kid", "private_key"])
      .orderBy("kid")
      .execute();
    expect(rows).toEqual([
      { kid: "a", private_key: "" },
      { kid: "b", private_key: "" },
      { kid: "c", private_key: "v2.k1.sealed-c" },
      { kid: "d", private_key: "v2.k1.sealed-d" },
    ]);
  });
});
