import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KyselyClientRepository } from "../../src/oauth/clients.js";
import { isActive } from "../../src/oauth/endpoints/introspect.js";
import { TOKEN_CHANGE, TokenStore } from "../../src/oauth/token-store.js";
import { KyselyTokenRepository, type TokenRecord } from "../../src/oauth/tokens.js";
import { openSqlite, type Storage } from "../../src/storage/database.js";
import { ChangeFeed } from "../../src/storage/change-feed.js";
import { migrateToLatest } from "../../src/storage/migrate.js";

/**
 * The token store's cache over a real SQLite repository: which writes leave it warm (a refresh token's
 * rotation, the sweep of expired rows: they change no answer it holds) and that the answers stay right
 * when they do, i.e. the shortcut fails closed.
 */
describe("the token store's cache of access tokens", () => {
  let storage: Storage;
  let dir: string;
  let now = 1_000;
  let reads = 0;
  let published: string[] = [];
  let store: TokenStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "conduit-token-store-"));
    storage = openSqlite(join(dir, "db.sqlite"));
    await migrateToLatest(storage.db);
    const repo = new KyselyTokenRepository(storage.db);
    // The real repository, counting the reads that reach it.
    const counted = Object.assign(Object.create(repo) as KyselyTokenRepository, {
      findByDigest: (digest: string) => {
        reads++;
        return repo.findByDigest(digest);
      },
    });
    const changes = new ChangeFeed(pino({ level: "silent" }));
    changes.subscribe((change) => published.push(change.kind));
    store = new TokenStore(counted, changes, { cacheMs: 60_000, now: () => now });
    await new KyselyClientRepository(storage.db).create({
      clientId: "c1",
      clientName: "c1",
      version: "1.0",
      type: "confidential",
      description: "",
      redirectUris: [],
      grantTypes: ["client_credentials", "refresh_token"],
      scopes: ["s1"],
      accessTokenLifetime: undefined,
      refreshLimit: undefined,
      runAsUser: "alice",
      enabled: true,
      secretDigest: "digest",
      previousSecretDigest: undefined,
      previousSecretExpiresAt: undefined,
      registrationTokenDigest: undefined,
      metadata: {},
      createdAt: 0,
      updatedAt: 0,
    });
  });
  afterAll(async () => {
    await storage?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const token = (id: string, fields: Partial<TokenRecord> = {}): TokenRecord => ({
    id,
    digest: `digest-${id}`,
    kind: "access",
    clientId: "c1",
    username: "alice",
    scopes: ["s1"],
    grantId: `g-${id}`,
    issuedAt: 1_000,
    expiresAt: 100_000,
    revokedAt: undefined,
    refreshCount: 0,
    rotatedAt: undefined,
    ...fields,
  });

  /** The answer as the endpoints take it, and whether it came from the database. */
  async function lookUp(digest: string): Promise<{ active: boolean; read: boolean }> {
    const before = reads;
    const found = await store.findByDigest(digest);
    return { active: found !== undefined && isActive(found, now), read: reads > before };
  }

  it("keeps the access tokens it holds through a refresh token's rotation, and the rotated token is refused", async () => {
    await store.insert([token("a1", { grantId: "g1" }), token("r1", { grantId: "g1", kind: "refresh" })]);
    published = [];
    expect(await lookUp("digest-a1")).toEqual({ active: true, read: true });
    expect(await lookUp("digest-a1")).toEqual({ active: true, read: false });

    expect(await store.markRotated("r1", now)).toBe(true);
    expect(published).toEqual([]);
    expect(await lookUp("digest-a1")).toEqual({ active: true, read: false });
    // Refresh tokens are never cached: the rotated one is read, and is inactive, at once.
    expect(await lookUp("digest-r1")).toEqual({ active: false, read: true });
    expect(await store.markRotated("r1", now)).toBe(false);

    // A reuse revokes the family (revokeGrant): that is published and drops the cached access token.
    expect(await store.revokeGrant("g1", now)).toBe(2);
    expect(published).toEqual([TOKEN_CHANGE]);
    expect(await lookUp("digest-a1")).toEqual({ active: false, read: true });
  });

  it("keeps live access tokens through a sweep, and refuses an expired one it still holds", async () => {
    await store.insert([token("live"), token("short", { expiresAt: 5_000 })]);
    expect(await lookUp("digest-live")).toMatchObject({ active: true });
    expect(await lookUp("digest-short")).toMatchObject({ active: true });
    published = [];

    now = 6_000;
    expect(await store.deleteExpired(now)).toBeGreaterThanOrEqual(1);
    expect(published).toEqual([]);
    expect(await lookUp("digest-live")).toEqual({ active: true, read: false });
    // Still in the cache (its entry lasts 60 s), gone from the table: refused by its own expiry either way.
    expect(await lookUp("digest-short")).toEqual({ active: false, read: false });
    expect(
      await storage.db.selectFrom("oauth_tokens").where("id", "=", "short").selectAll().execute(),
    ).toEqual([]);
  });

  it("still drops everything on a revocation of one token", async () => {
    await store.insert([token("x1"), token("x2")]);
    await lookUp("digest-x1");
    await lookUp("digest-x2");
    published = [];
    expect(await store.revoke("x1", now)).toBe(true);
    expect(published).toEqual([TOKEN_CHANGE]);
    expect(await lookUp("digest-x1")).toEqual({ active: false, read: true });
    expect(await lookUp("digest-x2")).toEqual({ active: true, read: true });
  });
});

/**
 * Grouped INSERTs with a bound on how many run at once (INSERTS_IN_FLIGHT on PostgreSQL): the tokens
 * issued meanwhile wait, are grouped into the next INSERT, and each caller is answered only once its own
 * rows are written.
 */
describe("the token store's grouped inserts in flight", () => {
  const row = (id: string) => ({ id }) as TokenRecord;
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  function fakeRepository() {
    const calls: { ids: string[]; done: () => void }[] = [];
    const repo = {
      insert: (records: TokenRecord[]) =>
        new Promise<void>((done) => calls.push({ ids: records.map((r) => r.id), done })),
    } as unknown as KyselyTokenRepository;
    return { calls, repo };
  }

  it("runs at most maxInFlight INSERTs and groups what was issued meanwhile into the next", async () => {
    const { calls, repo } = fakeRepository();
    const store = new TokenStore(repo, new ChangeFeed(pino({ level: "silent" })), {
      cacheMs: 0,
      maxInFlight: 2,
    });
    const answered: string[] = [];
    const issue = (id: string) => store.insert([row(id)]).then(() => void answered.push(id));
    const all = [issue("a")];
    await turn();
    all.push(issue("b"));
    await turn();
    expect(calls.map((c) => c.ids)).toEqual([["a"], ["b"]]);
    // Two in flight: these wait, whatever the number of turns.
    for (const id of ["c", "d", "e"]) {
      all.push(issue(id));
      await turn();
    }
    expect(calls).toHaveLength(2);
    calls[0]!.done();
    await turn();
    await turn();
    expect(answered).toEqual(["a"]);
    expect(calls.map((c) => c.ids)).toEqual([["a"], ["b"], ["c", "d", "e"]]);
    calls[2]!.done();
    await turn();
    // c, d and e are written; b is not yet, and its caller still waits.
    expect(answered).toEqual(["a", "c", "d", "e"]);
    // A token issued now, with one INSERT in flight, starts the second at once.
    all.push(issue("f"));
    await turn();
    expect(calls.map((c) => c.ids).at(-1)).toEqual(["f"]);
    calls[1]!.done();
    calls[3]!.done();
    await Promise.all(all);
    expect(answered.sort()).toEqual(["a", "b", "c", "d", "e", "f"]);
  });

  it("starts an INSERT per turn of the loop without a bound (SQLite)", async () => {
    const { calls, repo } = fakeRepository();
    const store = new TokenStore(repo, new ChangeFeed(pino({ level: "silent" })), { cacheMs: 0 });
    const all: Promise<void>[] = [];
    for (const id of ["a", "b", "c"]) {
      all.push(store.insert([row(id)]));
      await turn();
    }
    expect(calls.map((c) => c.ids)).toEqual([["a"], ["b"], ["c"]]);
    for (const call of calls) call.done();
    await Promise.all(all);
  });
});

/**
 * Grouped reads (READS_GROUPED, on PostgreSQL): the reads that miss the cache in one turn of the event loop
 * go to the repository as one findByDigests. Over a real SQLite repository with grouping turned on, the
 * answers must be each caller's own, a revocation between the queueing and the read must be seen and not
 * cached, and a failed read must fail its callers, never read as "no such token".
 */
describe("the token store's grouped reads", () => {
  let storage: Storage;
  let dir: string;
  let groups: string[][] = [];
  let failNext = false;
  let store: TokenStore;
  let repo: KyselyTokenRepository;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "conduit-token-reads-"));
    storage = openSqlite(join(dir, "db.sqlite"));
    await migrateToLatest(storage.db);
    repo = new KyselyTokenRepository(storage.db);
    const counted = Object.assign(Object.create(repo) as KyselyTokenRepository, {
      findByDigest: () => {
        throw new Error("a grouped store must not read one by one");
      },
      findByDigests: (digests: readonly string[]) => {
        groups.push([...digests]);
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error("connection lost"));
        }
        return repo.findByDigests(digests);
      },
    });
    store = new TokenStore(counted, new ChangeFeed(pino({ level: "silent" })), {
      cacheMs: 60_000,
      now: () => 1_000,
      groupReads: true,
    });
    await new KyselyClientRepository(storage.db).create({
      clientId: "c1",
      clientName: "c1",
      version: "1.0",
      type: "confidential",
      description: "",
      redirectUris: [],
      grantTypes: ["client_credentials"],
      scopes: ["s1"],
      accessTokenLifetime: undefined,
      refreshLimit: undefined,
      runAsUser: "alice",
      enabled: true,
      secretDigest: "digest",
      previousSecretDigest: undefined,
      previousSecretExpiresAt: undefined,
      registrationTokenDigest: undefined,
      metadata: {},
      createdAt: 0,
      updatedAt: 0,
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
      expiresAt: 100_000,
      revokedAt: undefined,
      refreshCount: 0,
      rotatedAt: undefined,
    });
    await repo.insert(["a", "b", "c", "d"].map(token));
  });
  afterAll(async () => {
    await storage?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads the misses of one turn in one statement, each caller getting its own token", async () => {
    groups = [];
    const [a, b, again, none] = await Promise.all(
      ["digest-a", "digest-b", "digest-a", "digest-none"].map((d) => store.findByDigest(d)),
    );
    expect(groups).toEqual([["digest-a", "digest-b", "digest-none"]]);
    expect([a?.id, b?.id, again?.id, none]).toEqual(["a", "b", "a", undefined]);
    // Cached now: no second read.
    expect((await store.findByDigest("digest-b"))?.id).toBe("b");
    expect(groups).toHaveLength(1);
  });

  it("fails closed: a revocation while the read is queued is seen and not cached", async () => {
    groups = [];
    const pending = store.findByDigest("digest-c");
    // Queued, not yet read: the revocation commits first.
    expect(await store.revoke("c", 2_000)).toBe(true);
    expect((await pending)?.revokedAt).toBe(2_000);
    const read = groups.length;
    expect((await store.findByDigest("digest-c"))?.revokedAt).toBe(2_000);
    expect(groups.length).toBe(read + 1); // read again: the revoked answer was not cached
  });

  it("fails closed: a failed grouped read fails every caller in it", async () => {
    failNext = true;
    const results = await Promise.allSettled(["digest-d", "digest-d"].map((d) => store.findByDigest(d)));
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    // The next read is a fresh one, and finds the token.
    expect((await store.findByDigest("digest-d"))?.id).toBe("d");
  });
});
