import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KyselyClientRepository } from "../../src/oauth/clients.js";
import { KyselyTokenRepository, type TokenRecord } from "../../src/oauth/tokens.js";
import { openPostgres, type Storage } from "../../src/storage/database.js";
import { migrateToLatest } from "../../src/storage/migrate.js";
import { freshPostgresDatabase } from "../support/postgres.js";

/**
 * PostgreSQL statements are prepared once per connection (src/storage/database.ts). A prepared statement
 * never holds an answer: another node's write is seen on the next read, and a table changed under it by
 * another node's migration is run unprepared instead of failing.
 */
describe("prepared statements on PostgreSQL", () => {
  let nodeA: Storage;
  let nodeB: Storage;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const fresh = await freshPostgresDatabase();
    drop = fresh.drop;
    // One connection each, so the statements prepared below are the ones used again.
    nodeA = openPostgres(fresh.url, { max: 1 });
    nodeB = openPostgres(fresh.url, { max: 1 });
    await migrateToLatest(nodeA.db);
    await new KyselyClientRepository(nodeA.db).create({
      clientId: "c1",
      clientName: "App",
      version: "1.0",
      type: "confidential",
      description: "",
      redirectUris: [],
      grantTypes: ["client_credentials"],
      scopes: ["s1"],
      accessTokenLifetime: 0,
      refreshLimit: undefined,
      runAsUser: "alice",
      enabled: true,
      secretDigest: "digest",
      previousSecretDigest: undefined,
      previousSecretExpiresAt: undefined,
      registrationTokenDigest: undefined,
      metadata: {},
      createdAt: 1_000,
      updatedAt: 1_000,
    });
  });
  afterAll(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await drop?.();
  });

  const token = (id: string): TokenRecord => ({
    id,
    digest: `digest-${id}`,
    kind: "access",
    clientId: "c1",
    username: "alice",
    scopes: ["s1"],
    grantId: `g-${id}`,
    issuedAt: 1_000,
    expiresAt: 10_000_000_000_000,
    revokedAt: undefined,
    refreshCount: 0,
    rotatedAt: undefined,
  });

  it("sees another node's revocation on the very next read through a prepared lookup", async () => {
    const a = new KyselyTokenRepository(nodeA.db);
    const b = new KyselyTokenRepository(nodeB.db);
    await a.insert([token("t1")]);
    for (let i = 0; i < 3; i++) expect((await a.findByDigest("digest-t1"))?.revokedAt).toBeUndefined();
    expect(await b.revoke("t1", 2_000)).toBe(true);
    expect((await a.findByDigest("digest-t1"))?.revokedAt).toBe(2_000);
  });

  it("runs a statement whose table another node's migration changed, instead of failing", async () => {
    const a = new KyselyTokenRepository(nodeA.db);
    await a.insert([token("t2")]);
    expect((await a.findByDigest("digest-t2"))?.id).toBe("t2"); // prepared on node A's connection
    // Another node adds a column: `select t.*` prepared before would now change its result type.
    await sql`alter table oauth_tokens add column added_by_a_later_migration text`.execute(nodeB.db);
    const again = await a.findByDigest("digest-t2");
    expect(again?.id).toBe("t2");
    expect(again?.revokedAt).toBeUndefined();
    // And the connection after it (the stale one was let go) prepares afresh.
    expect((await a.findByDigest("digest-t2"))?.id).toBe("t2");
  });
});
