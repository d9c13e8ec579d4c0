import SQLite from "better-sqlite3";
import { sql } from "kysely";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { databaseFailure } from "../../src/storage/failures.js";
import { openPostgres } from "../../src/storage/database.js";
import { openTestStorage } from "../support/databases.js";
import { freshPostgresDatabase, POSTGRES_URL } from "../support/postgres.js";
import { DATABASES, startServer, type TestServer } from "../support/server.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

const json = (auth: string) => ({ authorization: auth, "content-type": "application/json" });

describe.each(DATABASES)("database failures on %s", (database) => {
  it("classifies a unique and a foreign key violation of the real database as a conflict", async () => {
    const { storage, cleanup } = await openTestStorage(database);
    try {
      const user = { username: "u", password_hash: "h", created_at: 1, updated_at: 1 };
      await storage.db.insertInto("users").values(user).execute();
      const duplicate = await storage.db
        .insertInto("users")
        .values(user)
        .execute()
        .catch((e: unknown) => e);
      expect(databaseFailure(duplicate)).toBe("conflict");
      const orphan = await storage.db
        .insertInto("user_groups")
        .values({ username: "u", group_name: "no-such-group" })
        .execute()
        .catch((e: unknown) => e);
      expect(databaseFailure(orphan)).toBe("conflict");
      const syntax = await storage.db
        .selectFrom("no_such_table" as "users")
        .selectAll()
        .execute()
        .catch((e: unknown) => e);
      expect(databaseFailure(syntax)).toBeUndefined();
    } finally {
      await cleanup();
    }
  });

  it("answers concurrent creations of one user with exactly one 201 and 409s, never a 500", async () => {
    const server = await startServer({ database });
    try {
      const create = () =>
        fetch(`${server.url}/admin/api/users`, {
          method: "POST",
          headers: json(server.adminAuth),
          body: JSON.stringify({ username: "twin", password: "twin-password", groups: [] }),
        }).then((r) => r.status);
      const statuses = await Promise.all(Array.from({ length: 8 }, create));
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    } finally {
      await server.close();
    }
  });
});

describe("PostgreSQL going away while Conduit runs", () => {
  let proxy: TcpProxy;
  let server: TestServer;
  let drop: () => Promise<void>;
  const users = () =>
    fetch(`${server.url}/admin/api/users`, { headers: { authorization: server.adminAuth } });

  beforeAll(async () => {
    const fresh = await freshPostgresDatabase();
    drop = fresh.drop;
    const upstream = new URL(POSTGRES_URL);
    proxy = await startTcpProxy({ host: upstream.hostname, port: Number(upstream.port || 5432) });
    const viaProxy = new URL(fresh.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    server = await startServer({ databaseUrl: viaProxy.href });
  });
  afterEach(async () => proxy.forward());
  afterAll(async () => {
    await server.close();
    await proxy.close();
    await drop();
  });

  it("answers 503 with Retry-After and no detail while it refuses connections, and recovers", async () => {
    expect((await users()).status).toBe(200);
    await proxy.refuse();
    const down = await users();
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("5");
    const body = (await down.json()) as Record<string, unknown>;
    expect(body).toEqual({ error: "unavailable", message: "the database is unavailable; try again later" });

    await proxy.forward();
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      status = (await users()).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(200);
  });

  it("answers 503 rather than hanging when it accepts connections and never answers", async () => {
    await proxy.blackhole();
    const started = Date.now();
    const res = await users();
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 30_000);
});

describe("SQLite busy", () => {
  it("answers 503 while another process holds the write lock past the busy timeout", async () => {
    const server = await startServer({ database: "sqlite" });
    const other = new SQLite(join(server.dataDir, "conduit.sqlite"));
    try {
      other.exec("BEGIN EXCLUSIVE");
      const body = JSON.stringify({ username: "waiting", password: "waiting-password", groups: [] });
      const busy = await fetch(`${server.url}/admin/api/users`, {
        method: "POST",
        headers: json(server.adminAuth),
        body,
      });
      expect(busy.status).toBe(503);
      expect(busy.headers.get("retry-after")).toBe("5");
      other.exec("ROLLBACK");
      const created = await fetch(`${server.url}/admin/api/users`, {
        method: "POST",
        headers: json(server.adminAuth),
        body,
      });
      expect(created.status).toBe(201);
    } finally {
      other.close();
      await server.close();
    }
  }, 30_000);
});

// The pool is the only thing between a request and the network: check that a refused connection is
// classified without a server in front of it.
it("classifies a refused PostgreSQL connection as unavailable", async () => {
  const storage = openPostgres("postgres://postgres@127.0.0.1:1/none", { connectTimeoutMs: 1000 });
  try {
    const error = await storage.db
      .selectFrom("users")
      .selectAll()
      .execute()
      .catch((e: unknown) => e);
    expect(databaseFailure(error)).toBe("unavailable");
  } finally {
    await storage.close();
  }
});

it("survives a PostgreSQL connection lost in the middle of a query: the query fails, nothing is uncaught", async () => {
  const upstream = new URL(POSTGRES_URL);
  const proxy = await startTcpProxy({ host: upstream.hostname, port: Number(upstream.port || 5432) });
  const viaProxy = new URL(POSTGRES_URL);
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  const storage = openPostgres(viaProxy.href);
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on("uncaughtException", onUncaught);
  try {
    const slow = sql`SELECT pg_sleep(5)`.execute(storage.db).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    await proxy.refuse();
    expect(databaseFailure(await slow)).toBe("unavailable");
    await new Promise((r) => setTimeout(r, 100));
    expect(uncaught).toEqual([]);
  } finally {
    process.off("uncaughtException", onUncaught);
    await storage.close();
    await proxy.close();
  }
});
