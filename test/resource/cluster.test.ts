import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { freshPostgresDatabase } from "../support/postgres.js";
import { startServer, type TestServer } from "../support/server.js";
import { admin, createUser, invokeWith, memoryScopes, selectDirectly } from "./support/conduit.js";
import { startFakeIntrospection, type FakeIntrospection } from "./support/fake-introspection.js";

const SECRET_KEY = randomBytes(32).toString("base64");

async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Two nodes on one PostgreSQL database with one CONDUIT_SECRET_KEY: a change to an external server on one
 * node drops the other node's cached verdicts (change feed), and either node can open the sealed secret.
 */
describe("external servers across the nodes of a PostgreSQL cluster", () => {
  let database: { url: string; drop: () => Promise<void> };
  let nodeA: TestServer;
  let nodeB: TestServer;
  let fake: FakeIntrospection;
  const answer = () => ({ active: true, scope: "invoke", exp: Math.floor(Date.now() / 1000) + 3600 });

  beforeAll(async () => {
    database = await freshPostgresDatabase();
    const env = { CONDUIT_SECRET_KEY: SECRET_KEY };
    nodeA = await startServer({ databaseUrl: database.url, env });
    nodeB = await startServer({ databaseUrl: database.url, env });
    fake = await startFakeIntrospection();
    await createUser(nodeA, "partner");
    const created = await admin(nodeA, "POST", "/admin/api/oauth/external-servers", {
      name: "Okta",
      introspectionEndpoint: fake.url,
      clientId: "rs",
      clientSecret: "cluster-secret",
      user: "partner",
    });
    expect(created.status).toBe(201);
    await selectDirectly(nodeA, "Okta");
    for (const node of [nodeA, nodeB]) memoryScopes(node, { invoke: ["pub.math"] });
  });

  afterAll(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await fake?.stop();
    await database?.drop();
  });

  test("the other node uses the server (and its sealed secret) and drops its cache when it changes", async () => {
    fake.behave({ kind: "answer", body: answer() });
    const token = randomBytes(24).toString("base64url");
    await eventually(async () => (await invokeWith(token, nodeB)).status === 200);
    expect(fake.requests.at(-1)!.authorization).toBe(
      `Basic ${Buffer.from("rs:cluster-secret").toString("base64")}`,
    );
    const before = fake.calls;
    expect((await invokeWith(token, nodeB)).status).toBe(200);
    expect(fake.calls).toBe(before); // cached on node B

    fake.behave({ kind: "answer", body: { active: false } });
    const updated = await admin(nodeA, "PUT", "/admin/api/oauth/external-servers/Okta", { timeoutMs: 1500 });
    expect(updated.status).toBe(200);
    // Node B hears of the change through PostgreSQL NOTIFY and asks the server again.
    await eventually(async () => (await invokeWith(token, nodeB)).status === 401);
    expect(fake.calls).toBeGreaterThan(before);
  });
});
