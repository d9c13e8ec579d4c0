import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KyselyClientRepository, type ClientRecord } from "../../src/oauth/clients.js";
import { KyselyCodeRepository, type CodeRecord } from "../../src/oauth/codes.js";
import { KyselyInitialAccessTokenRepository } from "../../src/oauth/initial-access-tokens.js";
import { KyselyScopeRepository } from "../../src/oauth/scopes.js";
import {
  GrantRevokedError,
  KyselyTokenRepository,
  SWEEP_REST,
  type TokenRecord,
} from "../../src/oauth/tokens.js";
import { openPostgres, openSqlite, type Storage } from "../../src/storage/database.js";
import { migrateToLatest } from "../../src/storage/migrate.js";
import { freshPostgresDatabase } from "../support/postgres.js";
import { DATABASES } from "../support/server.js";

/** One contract suite per repository, run on SQLite and on PostgreSQL. */
describe.each(DATABASES)("OAuth repositories (%s)", (database) => {
  let storage: Storage;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    if (database === "sqlite") {
      const dir = mkdtempSync(join(tmpdir(), "conduit-oauth-repo-"));
      storage = openSqlite(join(dir, "db.sqlite"));
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    } else {
      const fresh = await freshPostgresDatabase();
      storage = openPostgres(fresh.url);
      cleanup = fresh.drop;
    }
    await migrateToLatest(storage.db);
  });
  afterAll(async () => {
    await storage?.close();
    await cleanup?.();
  });

  const client = (id: string, name = id, version = "1.0"): ClientRecord => ({
    clientId: id,
    clientName: name,
    version,
    type: "confidential",
    description: "d",
    redirectUris: ["https://a.example/cb"],
    grantTypes: ["authorization_code", "refresh_token"],
    scopes: ["s1"],
    accessTokenLifetime: 0,
    refreshLimit: undefined,
    runAsUser: "alice",
    enabled: true,
    secretDigest: "digest",
    previousSecretDigest: undefined,
    previousSecretExpiresAt: undefined,
    registrationTokenDigest: undefined,
    metadata: { token_endpoint_auth_method: "client_secret_post" },
    createdAt: 1_000,
    updatedAt: 1_000,
  });

  const token = (id: string, fields: Partial<TokenRecord> = {}): TokenRecord => ({
    id,
    digest: `digest-${id}`,
    kind: "access",
    clientId: "c1",
    username: "alice",
    scopes: ["s1", "s2"],
    grantId: "g1",
    issuedAt: 1_000,
    expiresAt: 10_000,
    revokedAt: undefined,
    refreshCount: 0,
    rotatedAt: undefined,
    ...fields,
  });

  it("stores clients round trip, with name and version unique as a pair", async () => {
    const repo = new KyselyClientRepository(storage.db);
    expect(await repo.create(client("c1", "App"))).toBe(true);
    expect(await repo.create(client("c2", "App", "2.0"))).toBe(true);
    expect(await repo.create(client("c3", "App"))).toBe(false);
    expect(await repo.create(client("c1", "Other"))).toBe(false);
    expect(await repo.get("c1")).toEqual(client("c1", "App"));
    const changed = {
      ...client("c2", "App", "2.0"),
      enabled: false,
      refreshLimit: 3,
      accessTokenLifetime: undefined,
    };
    expect(await repo.update(changed)).toBe(true);
    expect(await repo.get("c2")).toEqual(changed);
    expect(await repo.update({ ...changed, version: "1.0" })).toBe(false);
    expect((await repo.list()).map((c) => c.clientId)).toEqual(["c1", "c2"]);
    expect(await repo.delete("c2")).toBe(true);
    expect(await repo.delete("c2")).toBe(false);
  });

  it("stores scopes", async () => {
    const repo = new KyselyScopeRepository(storage.db);
    const scope = {
      name: "s1",
      description: "one",
      values: ["pub.math", "pub.string:length"],
      createdAt: 1,
      updatedAt: 2,
    };
    expect(await repo.create(scope)).toBe(true);
    expect(await repo.create(scope)).toBe(false);
    expect(await repo.get("s1")).toEqual(scope);
    expect(await repo.update({ ...scope, values: ["pub.json"], updatedAt: 3 })).toBe(true);
    expect((await repo.list())[0]?.values).toEqual(["pub.json"]);
    expect(await repo.delete("s1")).toBe(true);
    expect(await repo.get("s1")).toBeUndefined();
  });

  it("stores tokens by digest, joined with the client's enabled flag, and revokes by grant", async () => {
    const repo = new KyselyTokenRepository(storage.db);
    await repo.insert([
      token("t1"),
      token("r1", { kind: "refresh", expiresAt: undefined }),
      token("t2", { grantId: "g2", expiresAt: 500 }),
    ]);
    expect(await repo.findByDigest("digest-t1")).toEqual({ ...token("t1"), clientEnabled: true });
    expect(await repo.findByDigest("nope")).toBeUndefined();
    expect((await repo.list({ clientId: "c1", active: true }, 1_000)).map((t) => t.id).sort()).toEqual([
      "r1",
      "t1",
    ]);
    expect((await repo.list({ active: false }, 1_000)).map((t) => t.id)).toEqual(["t2"]);
    expect(await repo.revokeGrant("g1", 2_000)).toBe(2);
    expect(await repo.revokeGrant("g1", 3_000)).toBe(0);
    expect((await repo.get("t1"))?.revokedAt).toBe(2_000);
    expect(await repo.revoke("t2", 2_000)).toBe(true);
    expect(await repo.revoke("t2", 2_000)).toBe(false);
  });

  it("stores every field of a batch exactly: large numbers, nulls, Unicode, quotes, backslashes, JSON-like text", async () => {
    // On PostgreSQL a batch goes as one JSON parameter (KyselyTokenRepository.insertQuery); a value whose
    // JSON would hold \u-escapes of lone surrogates goes as VALUES, and is stored as pg writes it (U+FFFD).
    const repo = new KyselyTokenRepository(storage.db);
    const odd = [
      token("u1", { username: 'Zoë "名前" \\ back\\slash \n tab\t 🎉', newGrant: true, grantId: "gu1" }),
      token("u2", {
        username: undefined,
        scopes: [],
        expiresAt: undefined,
        issuedAt: 8_640_000_000_000,
        refreshCount: 2_147_483_647,
        rotatedAt: 8_639_999_999_999,
        certificateThumbprint: "x5t#S256",
        newGrant: true,
        grantId: "gu2",
      }),
      token("u3", { username: '{"a":[1,null]}', kind: "refresh", newGrant: true, grantId: "gu3" }),
    ];
    expect(repo.insertQuery(odd).sql.includes("json_populate_recordset")).toBe(database === "postgres");
    await repo.insert(odd);
    const storedAsIs = async (records: TokenRecord[]) => {
      for (const { newGrant: _, ...stored } of records)
        expect(await repo.findByDigest(stored.digest)).toEqual({ ...stored, clientEnabled: true });
    };
    await storedAsIs(odd);
    const escaped = [
      token("u4", { username: "lone \ud800 surrogate", newGrant: true, grantId: "gu4" }),
      token("u5", {
        username: "fine",
        certificateThumbprint: "x5t-\\ud800-literal",
        newGrant: true,
        grantId: "gu5",
      }),
    ];
    expect(repo.insertQuery(escaped).sql).not.toContain("json_populate_recordset");
    await repo.insert(escaped);
    await storedAsIs(escaped.slice(1));
    // pg writes a lone surrogate as one U+FFFD; better-sqlite3 as three bytes that read back as three.
    expect((await repo.findByDigest("digest-u4"))?.username).toBe(
      database === "postgres" ? "lone \ufffd surrogate" : "lone \ufffd\ufffd\ufffd surrogate",
    );
  });

  it("stores rows of a new family without the grant lock, and still refuses a revoked family beside them", async () => {
    const repo = new KyselyTokenRepository(storage.db);
    // The shortcut (no grant row, no transaction) when every row is of a freshly minted family.
    await repo.insert([token("n1", { grantId: "gn1", newGrant: true, digest: "digest-n1" })]);
    const stored = await repo.findByDigest("digest-n1");
    expect(stored?.revokedAt).toBeUndefined();
    expect(stored).not.toHaveProperty("newGrant");
    // Such a family is revoked like any other, and its token then reads revoked.
    expect(await repo.revokeGrant("gn1", 2_500)).toBe(1);
    expect((await repo.findByDigest("digest-n1"))?.revokedAt).toBe(2_500);
    // Fails closed: a row of an existing, revoked family is refused even in a batch with new-family rows,
    // and the whole batch is stored or nothing is.
    await expect(
      repo.insert([
        token("n2", { grantId: "gn2", newGrant: true, digest: "digest-n2" }),
        token("n3", { grantId: "gn1", digest: "digest-n3" }),
      ]),
    ).rejects.toThrow(GrantRevokedError);
    expect(await repo.findByDigest("digest-n2")).toBeUndefined();
    expect(await repo.findByDigest("digest-n3")).toBeUndefined();
  });

  it("reads many tokens by digest in one statement, each as findByDigest reads it", async () => {
    const repo = new KyselyTokenRepository(storage.db);
    await repo.insert([
      token("m1", { grantId: "gm1", digest: "digest-m1" }),
      token("m2", { grantId: "gm2", digest: "digest-m2" }),
    ]);
    expect(await repo.revokeGrant("gm2", 3_000)).toBe(1);
    const found = await repo.findByDigests(["digest-m1", "digest-m2", "digest-none", "digest-m1"]);
    expect([...found.keys()].sort()).toEqual(["digest-m1", "digest-m2"]);
    expect(found.get("digest-m1")).toEqual(await repo.findByDigest("digest-m1"));
    // A revoked family reads revoked through either lookup.
    expect(found.get("digest-m2")?.revokedAt).toBe(3_000);
    expect(found.get("digest-m2")).toEqual(await repo.findByDigest("digest-m2"));
    expect((await repo.findByDigests([])).size).toBe(0);
  });

  it("rotates a refresh token for exactly one of many concurrent callers", async () => {
    const repo = new KyselyTokenRepository(storage.db);
    await repo.insert([token("r2", { kind: "refresh", grantId: "g3" })]);
    const results = await Promise.all(Array.from({ length: 8 }, () => repo.markRotated("r2", 5_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await repo.get("r2"))?.rotatedAt).toBe(5_000);
  });

  it("deletes expired tokens only", async () => {
    const repo = new KyselyTokenRepository(storage.db);
    // g1 was revoked above: its family gets no new tokens (GrantRevokedError), so these go in g4.
    await expect(repo.insert([token("e0", { digest: "de0" })])).rejects.toThrow(/revoked/);
    await repo.insert([
      token("e1", { digest: "de1", expiresAt: 100, grantId: "g4" }),
      token("e2", { digest: "de2", expiresAt: 1e13, grantId: "g4" }),
    ]);
    const removed = await repo.deleteExpired(1_000);
    expect(removed).toBeGreaterThanOrEqual(2); // e1 and t2 (expired at 500)
    expect(await repo.get("e1")).toBeUndefined();
    expect(await repo.get("e2")).toBeDefined();
    expect(await repo.get("r1")).toBeDefined(); // never expires
  });

  it("sweeps in chunks, and keeps a revoked family's grant row while any of its tokens is left", async () => {
    const repo = new KyselyTokenRepository(storage.db);
    const grantRow = (grantId: string) =>
      storage.db.selectFrom("oauth_grants").selectAll().where("grant_id", "=", grantId).executeTakeFirst();
    // More expired rows than one chunk of the sweep deletes (250), across many families.
    const expired = Array.from({ length: 600 }, (_, i) =>
      token(`x${i}`, { digest: `dx${i}`, expiresAt: 50, grantId: `gx${i % 7}` }),
    );
    await repo.insert(expired);
    // A revoked family with one expired token and one still valid: its row must outlive the sweep, or the
    // valid token would read as never revoked.
    await repo.insert([
      token("v1", { digest: "dv1", expiresAt: 50, grantId: "gv" }),
      token("v2", { digest: "dv2", expiresAt: 1e13, grantId: "gv" }),
    ]);
    await repo.revokeGrant("gv", 60);
    expect(await repo.deleteExpired(1_000)).toBeGreaterThanOrEqual(601);
    expect(await repo.get("x0")).toBeUndefined();
    expect(await repo.get("x599")).toBeUndefined();
    expect(await grantRow("gx3")).toBeUndefined(); // emptied: its row went with its tokens
    expect(await grantRow("gv")).toMatchObject({ revoked_at: 60 });
    expect((await repo.findByDigest("dv2"))?.revokedAt).toBe(60);
    // A refresh of that family is still refused (its row is what the lock reads).
    await expect(repo.insert([token("v3", { digest: "dv3", grantId: "gv" })])).rejects.toThrow(
      GrantRevokedError,
    );
  });

  it("rests between the sweep's chunks, so other queries run while it deletes", async () => {
    const repo = new KyselyTokenRepository(storage.db, { sweepRest: SWEEP_REST[database] });
    await repo.insert(
      Array.from({ length: 1_000 }, (_, i) =>
        token(`rest${i}`, { digest: `drest${i}`, expiresAt: 50, grantId: `grest${i}` }),
      ),
    );
    await repo.insert([token("rest-live", { digest: "drest-live", expiresAt: 1e13, grantId: "grest-live" })]);
    let settled = false;
    const sweep = repo.deleteExpired(1_000).finally(() => (settled = true));
    // Reads one after the other for as long as the sweep runs, each in a turn of the event loop of its own
    // (as requests arrive): between chunks that followed each other at once, only about one per chunk would
    // fit.
    let reads = 0;
    while (!settled) {
      await new Promise((resolve) => setImmediate(resolve));
      expect((await repo.get("rest-live"))?.id).toBe("rest-live");
      reads++;
    }
    expect(await sweep).toBeGreaterThanOrEqual(1_000);
    // On SQLite a chunk holds the event loop; on PostgreSQL (no rest) reads go on meanwhile on the pool's
    // other connections.
    if (database === "sqlite") expect(reads).toBeGreaterThanOrEqual(10);
    else expect(reads).toBeGreaterThanOrEqual(1);
    expect(await repo.get("rest999")).toBeUndefined();
  });

  it("consumes an authorization code exactly once, even concurrently", async () => {
    const repo = new KyselyCodeRepository(storage.db);
    const code: CodeRecord = {
      digest: "code-1",
      clientId: "c1",
      username: "alice",
      redirectUri: "https://a.example/cb",
      redirectUriGiven: true,
      scopes: ["s1"],
      codeChallenge: "challenge",
      grantId: "g9",
      createdAt: 1,
      expiresAt: 1_000,
      consumedAt: undefined,
    };
    await repo.insert(code);
    expect(await repo.get("code-1")).toEqual(code);
    const results = await Promise.all(Array.from({ length: 8 }, () => repo.consume("code-1", 50)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await repo.get("code-1"))?.consumedAt).toBe(50);
    expect(await repo.deleteExpired(1_000)).toBe(0);
    expect(await repo.deleteExpired(1_000 + 86_400_000)).toBe(1);
  });

  it("uses an initial access token once, and never after expiry", async () => {
    const repo = new KyselyInitialAccessTokenRepository(storage.db);
    const base = { createdBy: "Administrator", createdAt: 1, usedAt: undefined, usedByClient: undefined };
    await repo.insert({ ...base, id: "i1", digest: "di1", expiresAt: 1_000 });
    await repo.insert({ ...base, id: "i2", digest: "di2", expiresAt: 10 });
    const uses = await Promise.all([repo.use("di1", "cA", 5), repo.use("di1", "cB", 5)]);
    expect(uses.filter(Boolean)).toHaveLength(1);
    expect((await repo.get("di1"))?.usedAt).toBe(5);
    expect(await repo.use("di2", "cC", 20)).toBe(false);
    expect(await repo.deleteExpired(20)).toBe(1);
    expect((await repo.list()).map((t) => t.id)).toEqual(["i1"]);
    expect(await repo.delete("i1")).toBe(true);
  });

  it("deletes the record of a client's registration with the client", async () => {
    const clients = new KyselyClientRepository(storage.db);
    const tokens = new KyselyInitialAccessTokenRepository(storage.db);
    expect(await clients.create(client("reg1"))).toBe(true);
    const record = {
      clientId: "reg1",
      tokenId: "i9",
      scopes: ["s1"],
      grantTypes: undefined,
      registeredAt: 7,
    };
    await tokens.recordRegistration(record);
    expect(await tokens.registration("reg1")).toEqual(record);
    expect(await clients.delete("reg1")).toBe(true);
    expect(await tokens.registration("reg1")).toBeUndefined();
  });
});
