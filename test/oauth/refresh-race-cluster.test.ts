import { randomBytes, randomUUID } from "node:crypto";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tokenDigest } from "../../src/oauth/ids.js";
import { oauthOf } from "../../src/oauth/module.js";
import { issueTokens } from "../../src/oauth/token-factory.js";
import { KyselyTokenRepository, toRow, type TokenRecord } from "../../src/oauth/tokens.js";
import { migrations } from "../../src/storage/migrations/index.js";
import type { Database } from "../../src/storage/schema.js";
import { freshPostgresDatabase } from "../support/postgres.js";
import { basic, DATABASES, startServer, type TestServer } from "../support/server.js";
import { admin, createClient, form, invoke, seed, USER, type Json, type TestClient } from "./support.js";

const RACES = Number(process.env.REFRESH_RACES ?? 1000);
const PARALLEL = Number(process.env.REFRESH_RACE_PARALLEL ?? 12);

/** A new family (grant) of `client` for alice, issued by the server's own token factory: its tokens. */
async function issue(
  server: TestServer,
  clientId: string,
  grantId: string = randomUUID(),
  count = 0,
): Promise<{ refresh: string; access: string }> {
  const oauth = oauthOf(server.conduit).server;
  const client = (await oauth.clients.get(clientId))!;
  const issued = await issueTokens(oauth, {
    client,
    username: USER,
    scopes: ["math"],
    grantId,
    refresh: { scopes: ["math"], count },
    settings: await oauth.settings.get(),
  });
  return { refresh: issued.refresh_token!, access: issued.access_token };
}

async function newFamily(server: TestServer, clientId: string): Promise<string> {
  return (await issue(server, clientId)).refresh;
}

async function pool<T>(count: number, parallel: number, work: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await work(index);
      }
    }),
  );
  return results;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Issue 11: two nodes on one PostgreSQL database. Node A refreshes a family's current refresh token while
 * node B revokes the family, either by reusing the family's already-rotated refresh token (RFC 9700
 * §4.14.2) or by revoking the current one (RFC 7009 §2.1). Afterwards no token of any family may be active,
 * neither through introspection on either node nor as a row in the database.
 */
describe("refresh racing a family revocation on two PostgreSQL nodes", () => {
  let database: { url: string; drop: () => Promise<void> };
  let nodeA: TestServer;
  let nodeB: TestServer;
  let client: TestClient;
  let auth: Record<string, string>;

  beforeAll(async () => {
    database = await freshPostgresDatabase();
    const env = { CONDUIT_SECRET_KEY: randomBytes(32).toString("base64") };
    nodeA = await startServer({ databaseUrl: database.url, env });
    nodeB = await startServer({ databaseUrl: database.url, env });
    await seed(nodeA);
    // A reuse must revoke at once (no grace window for retries).
    expect((await admin(nodeA, "PUT", "/oauth/settings", { refreshGraceSeconds: 0 })).status).toBe(200);
    client = await createClient(nodeA, {
      type: "confidential",
      redirectUris: ["https://app.example.com/callback"],
      grantTypes: ["authorization_code", "refresh_token"],
      scopes: ["math"],
    });
    auth = { authorization: basic(client.clientId, client.clientSecret!) };
  });

  afterAll(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await database?.drop();
  });

  /** Runs RACES races on fresh families and asserts that none of their tokens is active afterwards. */
  async function race(label: string): Promise<void> {
    const started = Date.now();
    // Each family: R0 issued and rotated into R1 (so R0 is a rotated token B can reuse).
    const oauth = oauthOf(nodeA.conduit).server;
    const families = await pool(RACES, PARALLEL, async () => {
      // As a refresh on node A would: R0 marked rotated, R1 (and its access token) issued in its family.
      const grantId = randomUUID();
      const r0 = (await issue(nodeA, client.clientId, grantId)).refresh;
      const row = (await oauth.tokens.findByDigest(tokenDigest(r0)))!;
      expect(await oauth.tokens.markRotated(row.id, Date.now())).toBe(true);
      const { refresh: r1, access } = await issue(nodeA, client.clientId, grantId, 1);
      return { r0, r1, access };
    });
    await pause(5); // every R0 is now rotated more than the (zero) grace window ago
    const setupMs = Date.now() - started;

    const raceStarted = Date.now();
    const outcomes = await pool(RACES, PARALLEL, async (i) => {
      const { r0, r1 } = families[i]!;
      // Alternate which side leaves first, by up to 2 ms, so both orders and the overlap are all hit.
      const delayA = i % 4 < 2 ? 0 : Math.floor(Math.random() * 3);
      const delayB = i % 4 < 2 ? Math.floor(Math.random() * 3) : 0;
      const refresh = (async () => {
        if (delayA) await pause(delayA);
        return form(`${nodeA.url}/oauth2/token`, { grant_type: "refresh_token", refresh_token: r1 }, auth);
      })();
      const revoke = (async () => {
        if (delayB) await pause(delayB);
        return i % 2 === 0
          ? form(`${nodeB.url}/oauth2/token`, { grant_type: "refresh_token", refresh_token: r0 }, auth)
          : form(`${nodeB.url}/oauth2/revoke`, { token: r1, token_type_hint: "refresh_token" }, auth);
      })();
      const [refreshed, revoked] = await Promise.all([refresh, revoke]);
      // B's side always revokes: a reuse answers invalid_grant, a revocation 200.
      expect(revoked.status).toBe(i % 2 === 0 ? 400 : 200);
      expect([200, 400]).toContain(refreshed.status);
      if (refreshed.status === 400) expect(refreshed.body.error).toBe("invalid_grant");
      return refreshed.status === 200
        ? [refreshed.body.access_token as string, refreshed.body.refresh_token as string]
        : [];
    });
    const raceMs = Date.now() - raceStarted;

    // Every token that exists in the families: the ones node A answered in the race, plus R1 and its
    // access token from the setup.
    const issued = outcomes.flat();
    const candidates = [...issued, ...families.flatMap((f) => [f.r1, f.access])];
    const introspected = await pool(candidates.length * 2, PARALLEL, async (n) => {
      const node = n % 2 === 0 ? nodeA : nodeB;
      const answer = await form(`${node.url}/oauth2/introspect`, { token: candidates[n >> 1]! }, auth);
      expect(answer.status).toBe(200);
      return (answer.body as Json).active === true;
    });
    const activeByIntrospection = introspected.filter(Boolean).length;
    const db = nodeA.conduit.storage.db;
    const digests = families.map((f) => tokenDigest(f.r1));
    const grantIds = (
      await db.selectFrom("oauth_tokens").select("grant_id").where("digest", "in", digests).execute()
    ).map((r) => r.grant_id);
    expect(grantIds.length).toBe(RACES);
    // Every family was revoked: each has a revoked refresh token row.
    const revokedFamilies = await db
      .selectFrom("oauth_tokens")
      .select((eb) => eb.fn.count<string>("grant_id").distinct().as("n"))
      .where("grant_id", "in", grantIds)
      .where("kind", "=", "refresh")
      .where("revoked_at", "is not", null)
      .executeTakeFirstOrThrow();
    expect(Number(revokedFamilies.n)).toBe(RACES);
    // Rows of those families still unrevoked (their own row, whatever the grant row says).
    const activeRows = await db
      .selectFrom("oauth_tokens")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("grant_id", "in", grantIds)
      .where("revoked_at", "is", null)
      .executeTakeFirstOrThrow();
    const refreshWins = outcomes.filter((o) => o.length > 0).length;
    // A survivor: a token answered active on either node, or a token row of a revoked family not revoked.
    console.log(
      `refresh race (${label}): ${RACES} races (${RACES / 2} reuse, ${RACES / 2} revoke) in ${raceMs} ms ` +
        `(setup ${setupMs} ms); node A's refresh won ${refreshWins}; ` +
        `${candidates.length} tokens x 2 nodes introspected: ${activeByIntrospection} active; ` +
        `unrevoked token rows in revoked families: ${activeRows.n}`,
    );
    expect(activeByIntrospection).toBe(0);
    expect(Number(activeRows.n)).toBe(0);
    // Every grant row says revoked too.
    const openGrants = await db
      .selectFrom("oauth_grants")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("grant_id", "in", grantIds)
      .where("revoked_at", "is", null)
      .executeTakeFirstOrThrow();
    expect(Number(openGrants.n)).toBe(0);
  }

  it(`leaves no active token of a revoked family over ${RACES} races`, { timeout: 120_000 }, async () => {
    await race("as is");
  });

  it(
    `leaves no active token of a revoked family over ${RACES} races with slow revocations`,
    { timeout: 120_000 },
    async () => {
      // A loaded database: each token a revocation ends holds its statement 2 ms before the commit (a
      // trigger in this test database only), which widens the READ COMMITTED window between the
      // revocation's snapshot and its commit that a refresh on the other node can fall into.
      const db = nodeA.conduit.storage.db;
      await sql`
        create function slow_revocation() returns trigger language plpgsql as $$
        begin perform pg_sleep(0.002); return new; end $$
      `.execute(db);
      await sql`
        create trigger slow_revocation after update on oauth_tokens for each row
        when (old.revoked_at is null and new.revoked_at is not null) execute function slow_revocation()
      `.execute(db);
      try {
        await race("slow revocations");
      } finally {
        await sql`drop trigger slow_revocation on oauth_tokens`.execute(db);
      }
    },
  );
});

/**
 * The shortcuts of the check fail closed: a token row written active into a revoked family (as a write that
 * raced past the lock would be) is refused everywhere, since verification joins the grant row; a family
 * without a grant row (tokens written before migration 0010 outside its backfill, or by a code redemption)
 * gets one on revocation; the SQLite access-token cache drops a family's tokens when it is revoked.
 */
describe.each(DATABASES)("a revoked family's tokens are never active (%s)", (kind) => {
  let server: TestServer;
  let client: TestClient;
  let auth: Record<string, string>;

  beforeAll(async () => {
    server = await startServer({ database: kind });
    await seed(server);
    client = await createClient(server, {
      type: "confidential",
      redirectUris: ["https://app.example.com/callback"],
      grantTypes: ["authorization_code", "refresh_token"],
      scopes: ["math"],
    });
    auth = { authorization: basic(client.clientId, client.clientSecret!) };
  });
  afterAll(async () => server.close());

  const introspect = async (token: string) =>
    (await form(`${server.url}/oauth2/introspect`, { token }, auth)).body.active as boolean;

  /** Writes an active token row straight into the table, bypassing the issuance lock; answers its value. */
  async function rawToken(kindOf: "access" | "refresh", grantId: string): Promise<string> {
    const value = randomBytes(32).toString("base64url");
    const now = Date.now();
    const record: TokenRecord = {
      id: randomUUID(),
      digest: tokenDigest(value),
      kind: kindOf,
      clientId: client.clientId,
      username: USER,
      scopes: ["math"],
      grantId,
      issuedAt: now,
      expiresAt: now + 3_600_000,
      revokedAt: undefined,
      refreshCount: 1,
      rotatedAt: undefined,
    };
    await server.conduit.storage.db.insertInto("oauth_tokens").values(toRow(record)).execute();
    return value;
  }

  async function grantOf(refreshToken: string): Promise<string> {
    const row = await server.conduit.storage.db
      .selectFrom("oauth_tokens")
      .select("grant_id")
      .where("digest", "=", tokenDigest(refreshToken))
      .executeTakeFirstOrThrow();
    return row.grant_id;
  }

  it("refuses a token row written into a family after its revocation", async () => {
    const refresh = await newFamily(server, client.clientId);
    const grantId = await grantOf(refresh);
    expect((await form(`${server.url}/oauth2/revoke`, { token: refresh }, auth)).status).toBe(200);
    const access = await rawToken("access", grantId);
    const later = await rawToken("refresh", grantId);
    expect(await introspect(access)).toBe(false);
    expect(await introspect(later)).toBe(false);
    expect((await invoke(server, "pub.math/randomDouble", access)).status).toBe(401);
    const refreshed = await form(
      `${server.url}/oauth2/token`,
      { grant_type: "refresh_token", refresh_token: later },
      auth,
    );
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe("invalid_grant");
    const listed = await admin(server, "GET", `/oauth/tokens?clientId=${client.clientId}&active=true`);
    expect((listed.body as Json[]).filter((t) => t.grantId === grantId)).toEqual([]);
  });

  it("creates the grant row of a family that had none when it is revoked", async () => {
    const refresh = await newFamily(server, client.clientId);
    const grantId = await grantOf(refresh);
    const db = server.conduit.storage.db;
    await db.deleteFrom("oauth_grants").where("grant_id", "=", grantId).execute();
    // No grant row: the family was never revoked, its tokens work (existing tokens keep working).
    expect(await introspect(refresh)).toBe(true);
    const access = await rawToken("access", grantId);
    expect((await invoke(server, "pub.math/randomDouble", access)).status).toBe(200);
    expect((await form(`${server.url}/oauth2/revoke`, { token: refresh }, auth)).status).toBe(200);
    const row = await db
      .selectFrom("oauth_grants")
      .selectAll()
      .where("grant_id", "=", grantId)
      .executeTakeFirst();
    expect(row?.revoked_at).not.toBeNull();
    expect((await invoke(server, "pub.math/randomDouble", access)).status).toBe(401);
    expect(await introspect(await rawToken("access", grantId))).toBe(false);
  });

  it("refuses to issue tokens for a revoked grant, and a deleted owner revokes the owner's families", async () => {
    const oauth = oauthOf(server.conduit).server;
    const refresh = await newFamily(server, client.clientId);
    const grantId = await grantOf(refresh);
    await oauth.tokens.revokeGrant(grantId, Date.now());
    await expect(
      issueTokens(oauth, {
        client: (await oauth.clients.get(client.clientId))!,
        username: USER,
        scopes: ["math"],
        grantId,
        settings: await oauth.settings.get(),
      }),
    ).rejects.toThrow(/revoked/);
    const other = await newFamily(server, client.clientId);
    const otherGrant = await grantOf(other);
    expect(await oauth.tokens.revokeUser(USER, Date.now())).toBeGreaterThan(0);
    const row = await server.conduit.storage.db
      .selectFrom("oauth_grants")
      .selectAll()
      .where("grant_id", "=", otherGrant)
      .executeTakeFirstOrThrow();
    expect(row.revoked_at).not.toBeNull();
    expect(await introspect(await rawToken("access", otherGrant))).toBe(false);
  });

  it("drops a verified (cached on SQLite) access token when its family is revoked", async () => {
    const refresh = await newFamily(server, client.clientId);
    const grantId = await grantOf(refresh);
    const access = await rawToken("access", grantId);
    expect((await invoke(server, "pub.math/randomDouble", access)).status).toBe(200);
    expect((await invoke(server, "pub.math/randomDouble", access)).status).toBe(200);
    // The reuse path: R0 rotated long ago (grace 0) and presented again revokes the family.
    expect((await admin(server, "PUT", "/oauth/settings", { refreshGraceSeconds: 0 })).status).toBe(200);
    const rotated = await form(
      `${server.url}/oauth2/token`,
      { grant_type: "refresh_token", refresh_token: refresh },
      auth,
    );
    expect(rotated.status).toBe(200);
    await pause(5);
    const reuse = await form(
      `${server.url}/oauth2/token`,
      { grant_type: "refresh_token", refresh_token: refresh },
      auth,
    );
    expect(reuse.body.error).toBe("invalid_grant");
    expect((await invoke(server, "pub.math/randomDouble", access)).status).toBe(401);
    expect((await invoke(server, "pub.math/randomDouble", rotated.body.access_token)).status).toBe(401);
    expect(await introspect(rotated.body.refresh_token)).toBe(false);
  });
});

/**
 * Migration 0010 backfills one grant row per existing family: revoked when the family has a revoked refresh
 * token (refresh tokens are only ever revoked with their family), open otherwise, so existing tokens keep
 * working and a token that survived the old race is ended.
 */
describe("migration 0010-oauth-grants on existing tokens (sqlite)", () => {
  it("backfills open and revoked families", async () => {
    const db = new Kysely<Database>({
      dialect: new SqliteDialect({ database: new BetterSqlite3(":memory:") }),
    });
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
      const before = await migrator.migrateTo("0008-signing-keys");
      expect(before.error).toBeUndefined();
      const row = (id: string, grantId: string, kindOf: string, revokedAt: number | null) => ({
        id,
        digest: `digest-${id}`,
        kind: kindOf,
        client_id: "c1",
        username: USER,
        scopes: "math",
        grant_id: grantId,
        issued_at: 1,
        expires_at: null,
        revoked_at: revokedAt,
        refresh_count: 0,
        rotated_at: null,
        cnf_x5t_s256: null,
      });
      await db
        .insertInto("oauth_tokens")
        .values([
          row("a1", "open", "access", null),
          row("r1", "open", "refresh", null),
          row("a2", "access-revoked", "access", 5),
          row("r2", "racedAway", "refresh", 7),
          row("a3", "racedAway", "access", null), // a survivor of the old race
          row("r3", "racedAway", "refresh", null),
        ])
        .execute();
      const after = await migrator.migrateToLatest();
      expect(after.error).toBeUndefined();
      const grants = await db.selectFrom("oauth_grants").selectAll().orderBy("grant_id").execute();
      expect(grants.map((g) => [g.grant_id, g.revoked_at === null ? null : Number(g.revoked_at)])).toEqual([
        ["access-revoked", null],
        ["open", null],
        ["racedAway", 7],
      ]);
      const repo = new KyselyTokenRepository(db);
      expect((await repo.get("a1"))?.revokedAt).toBeUndefined();
      expect((await repo.get("a2"))?.revokedAt).toBe(5);
      expect((await repo.get("a3"))?.revokedAt).toBe(7);
      expect((await repo.get("r3"))?.revokedAt).toBe(7);
    } finally {
      await db.destroy();
    }
  });
});
