import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { freshPostgresDatabase } from "../support/postgres.js";
import { DATABASES, startServer } from "../support/server.js";
import { admin, createUser, invokeWith, memoryScopes, selectDirectly } from "./support/conduit.js";
import { startFakeIntrospection, type FakeIntrospection } from "./support/fake-introspection.js";

/** The sealed client secret opens again after a restart with the key of the data dir. */
describe.each(DATABASES)("external servers survive a restart (%s)", (database) => {
  let fake: FakeIntrospection;
  let dataDir: string;
  let pg: { url: string; drop: () => Promise<void> } | undefined;

  beforeAll(async () => {
    fake = await startFakeIntrospection();
    dataDir = mkdtempSync(join(tmpdir(), "conduit-restart-"));
    if (database === "postgres") pg = await freshPostgresDatabase();
  });
  afterAll(async () => {
    await fake?.stop();
    await pg?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("the server, its settings and its secret are there after a restart", async () => {
    const options = { dataDir, ...(pg ? { databaseUrl: pg.url } : {}) };
    const first = await startServer(options);
    await createUser(first, "partner");
    const created = await admin(first, "POST", "/admin/api/oauth/external-servers", {
      name: "Okta",
      introspectionEndpoint: fake.url,
      clientId: "rs",
      clientSecret: "restart-secret",
      user: "partner",
      cacheTtlSeconds: 120,
    });
    expect(created.status).toBe(201);
    await first.close();

    const second = await startServer(options);
    try {
      const read = await admin(second, "GET", "/admin/api/oauth/external-servers/Okta");
      expect(read.status).toBe(200);
      expect(read.body).toEqual(created.body);
      await selectDirectly(second, "Okta");
      memoryScopes(second, { invoke: ["pub.math"] });
      fake.behave({
        kind: "answer",
        body: { active: true, scope: "invoke", exp: Math.floor(Date.now() / 1000) + 600 },
      });
      expect((await invokeWith(randomBytes(20).toString("base64url"), second)).status).toBe(200);
      expect(fake.requests.at(-1)!.authorization).toBe(
        `Basic ${Buffer.from("rs:restart-secret").toString("base64")}`,
      );
    } finally {
      await second.close();
    }
  });
});
