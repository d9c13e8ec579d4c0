import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChangeFeed, type Change } from "../../src/storage/change-feed.js";
import { freshPostgresDatabase } from "../support/postgres.js";
import { startTcpProxy } from "../support/tcp-proxy.js";

const log = pino({ level: "silent" });

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Cuts every LISTEN connection of this database (as a PostgreSQL restart would). */
async function cutListenConnections(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
  );
  await admin.end();
}

describe("the change feed between nodes on PostgreSQL", () => {
  let database: { url: string; drop: () => Promise<void> };
  beforeAll(async () => {
    database = await freshPostgresDatabase();
  });
  afterAll(async () => database.drop());

  it("delivers a change to this node at once and to the other nodes through NOTIFY", async () => {
    const a = new ChangeFeed(log);
    const b = new ChangeFeed(log);
    const seenA: Change[] = [];
    const seenB: Change[] = [];
    a.subscribe((c) => seenA.push(c));
    b.subscribe((c) => seenB.push(c));
    await a.connect(database.url);
    await b.connect(database.url);
    try {
      a.publish({ kind: "user", key: "ada" });
      expect(seenA).toEqual([{ kind: "user", key: "ada" }]);
      await until(() => seenB.length === 1);
      expect(seenB).toEqual([{ kind: "user", key: "ada" }]);
      expect(seenA).toHaveLength(1); // a node does not hear its own notification twice
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("tells the other nodes of a change made while its own LISTEN connection is down", async () => {
    // A reconnects only after 10 s; B at once.
    const a = new ChangeFeed(log, { initialMs: 10_000, maxMs: 10_000 });
    const b = new ChangeFeed(log, { initialMs: 50, maxMs: 200 });
    const seenB: Change[] = [];
    b.subscribe((c) => seenB.push(c));
    await a.connect(database.url);
    await b.connect(database.url);
    try {
      await cutListenConnections(database.url);
      await until(() => !a.listening && !b.listening);
      await until(() => b.listening);
      expect(a.listening).toBe(false);
      seenB.length = 0;
      a.publish({ kind: "oauth-token" });
      // Delivered without a key by B's own resynchronisation too; the key tells A's change apart.
      a.publish({ kind: "client", key: "c-42" });
      await until(() => seenB.some((c) => c.kind === "client" && c.key === "c-42"), 5_000);
      // A burst goes on one connection, every change of it once, none left behind.
      for (let i = 0; i < 50; i++) a.publish({ kind: "user", key: `u-${i}` });
      await until(
        () => new Set(seenB.filter((c) => c.key?.startsWith("u-")).map((c) => c.key)).size === 50,
        5_000,
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("reconnects after losing its connection, and then drops every kind of cache", async () => {
    const a = new ChangeFeed(log);
    const b = new ChangeFeed(log, { initialMs: 50, maxMs: 200 });
    const seenB: Change[] = [];
    b.subscribe((c) => seenB.push(c));
    await a.connect(database.url);
    await b.connect(database.url);
    try {
      await cutListenConnections(database.url);
      await until(() => !b.listening);
      await until(() => b.listening);
      // The resynchronisation drops everything of every kind (key absent).
      await until(() => seenB.some((c) => c.kind === "user" && c.key === undefined));
      expect(seenB.some((c) => c.kind === "acl" && c.key === undefined)).toBe(true);
      // And changes flow again once both are back.
      await until(() => a.listening);
      seenB.length = 0;
      a.publish({ kind: "acl", key: "Devs" });
      await until(() => seenB.some((c) => c.kind === "acl" && c.key === "Devs"));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("a partition that closes nothing is seen by the heartbeat: caches are dropped within a second, and keep being dropped until the feed is back", async () => {
    const target = new URL(database.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(database.url);
    viaProxy.port = String(proxy.port);
    const a = new ChangeFeed(log);
    const b = new ChangeFeed(log, { initialMs: 50, maxMs: 200 });
    const seenB: { change: Change; at: number }[] = [];
    b.subscribe((change) => seenB.push({ change, at: Date.now() }));
    await a.connect(database.url);
    await b.connect(viaProxy.href);
    try {
      proxy.stall();
      const changedAt = Date.now();
      a.publish({ kind: "user", key: "mallory" }); // lost for b: its connection lets nothing through
      await until(() => seenB.some((s) => s.change.kind === "user" && s.change.key === undefined), 5000);
      const dropped = seenB.find((s) => s.change.kind === "user" && s.change.key === undefined)!;
      const staleness = dropped.at - changedAt;
      // Heartbeat every 400 ms, answer within 400 ms: the cut is known in under a second (plus timers).
      expect(staleness).toBeLessThan(2000);
      console.info(`change feed: caches dropped ${staleness} ms after a change made during a partition`);
      expect(b.listening).toBe(false);
      // While the feed is down, everything keeps being dropped (nothing cached outlives 250 ms).
      const count = () => seenB.filter((s) => s.change.kind === "user" && s.change.key === undefined).length;
      const before = count();
      await new Promise((r) => setTimeout(r, 800));
      expect(count()).toBeGreaterThanOrEqual(before + 2);
      // The network comes back: b reconnects by itself and keyed changes flow again.
      await proxy.forward();
      await until(() => b.listening, 5000);
      await until(() => a.listening);
      seenB.length = 0;
      a.publish({ kind: "acl", key: "Devs" });
      await until(() => seenB.some((s) => s.change.kind === "acl" && s.change.key === "Devs"));
    } finally {
      await a.close();
      await b.close();
      await proxy.close();
    }
  });
});
