import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DATABASES, startServer, type TestServer } from "../support/server.js";
import {
  admin,
  createUser,
  invokeWith,
  logRecords,
  memoryScopes,
  selectDirectly,
} from "./support/conduit.js";
import { startFakeIntrospection, type FakeIntrospection } from "./support/fake-introspection.js";

/**
 * Issue 11: the circuit breaker's threshold and open time are settings of each external server
 * (`breakerThreshold`, `breakerOpenSeconds`; 3 and 5 s by default), stored, shown and edited through the
 * admin API, and used by the server's runtime (a change rebuilds it, so its breakers start closed).
 */
describe.each(DATABASES)("circuit breaker settings per external server (%s)", (database) => {
  let server: TestServer;
  let fake: FakeIntrospection;
  const PATH = "/admin/api/oauth/external-servers";
  const token = () => randomBytes(24).toString("base64url");
  const active = () => ({ active: true, scope: "invoke", exp: Math.floor(Date.now() / 1000) + 3600 });

  beforeAll(async () => {
    server = await startServer({ database });
    fake = await startFakeIntrospection();
    await createUser(server, "partner");
    memoryScopes(server, { invoke: ["pub.math"] });
  });
  afterAll(async () => {
    await server?.close();
    await fake?.stop();
  });

  test("the two fields default to 3 and 5 s, round-trip through the API and are refused out of range", async () => {
    const created = await admin(server, "POST", PATH, {
      name: "Defaults",
      introspectionEndpoint: fake.url,
      clientId: "rs",
      clientSecret: "secret",
      user: "partner",
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ breakerThreshold: 3, breakerOpenSeconds: 5 });

    const set = await admin(server, "POST", PATH, {
      name: "Tuned",
      introspectionEndpoint: fake.url,
      clientId: "rs",
      clientSecret: "secret",
      user: "partner",
      breakerThreshold: 7,
      breakerOpenSeconds: 30,
    });
    expect(set.status).toBe(201);
    expect((await admin(server, "GET", `${PATH}/Tuned`)).body).toMatchObject({
      breakerThreshold: 7,
      breakerOpenSeconds: 30,
    });
    const updated = await admin(server, "PUT", `${PATH}/Tuned`, { breakerOpenSeconds: 3600 });
    expect(updated.status).toBe(200);
    const read = await admin(server, "GET", `${PATH}/Tuned`);
    expect(read.body).toMatchObject({ breakerThreshold: 7, breakerOpenSeconds: 3600 });
    expect((await admin(server, "GET", PATH)).body).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "Tuned", breakerThreshold: 7 })]),
    );

    const wrong: [string, unknown][] = [
      ["breakerThreshold", 0],
      ["breakerThreshold", 101],
      ["breakerThreshold", 1.5],
      ["breakerThreshold", "3"],
      ["breakerOpenSeconds", 0],
      ["breakerOpenSeconds", 3601],
      ["breakerOpenSeconds", -5],
    ];
    for (const [field, value] of wrong) {
      const refused = await admin(server, "PUT", `${PATH}/Tuned`, { [field]: value });
      expect(refused.status, `${field}: ${JSON.stringify(value)}`).toBe(400);
      expect(refused.body).toMatchObject({ error: "invalid_field", field });
      const onCreate = await admin(server, "POST", PATH, {
        name: "Wrong",
        introspectionEndpoint: fake.url,
        clientId: "rs",
        clientSecret: "secret",
        user: "partner",
        [field]: value,
      });
      expect(onCreate.status).toBe(400);
      expect(onCreate.body).toMatchObject({ error: "invalid_field", field });
    }
    // Nothing was changed by the refused requests.
    expect((await admin(server, "GET", `${PATH}/Tuned`)).body).toMatchObject({
      breakerThreshold: 7,
      breakerOpenSeconds: 3600,
    });
    expect((await admin(server, "GET", `${PATH}/Wrong`)).status).toBe(404);
  });

  test("threshold 1 opens after one timeout and answers 503 fast; open time 1 s probes again after a second", async () => {
    const created = await admin(server, "POST", PATH, {
      name: "Twitchy",
      introspectionEndpoint: fake.url,
      clientId: "rs",
      clientSecret: "secret",
      user: "partner",
      timeoutMs: 200,
      breakerThreshold: 1,
      breakerOpenSeconds: 1,
    });
    expect(created.status).toBe(201);
    await selectDirectly(server, "Twitchy");

    fake.behave({ kind: "hang" });
    const first = await invokeWith(token(), server);
    expect(first.status).toBe(503); // timed out: the breaker opens at once (threshold 1)
    const calls = fake.calls;
    fake.behave({ kind: "answer", body: active() });
    const started = Date.now();
    const open = await invokeWith(token(), server);
    const elapsed = Date.now() - started;
    expect(open.status).toBe(503);
    expect(open.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(fake.calls).toBe(calls); // not called while open
    expect(elapsed).toBeLessThan(150); // fast, well under the 200 ms timeout
    const records = await logRecords(server);
    expect(
      records.some(
        (r) =>
          r.event === "external_server_circuit_open" &&
          r.server === "Twitchy" &&
          String(r.msg).includes("for 1 s"),
      ),
    ).toBe(true);

    await new Promise((r) => setTimeout(r, 1_100)); // past the 1 s open time: one probe goes through
    expect((await invokeWith(token(), server)).status).toBe(200);
    expect(fake.calls).toBe(calls + 1);
  });

  test("the default threshold of 3 still needs three timeouts, and a change rebuilds the runtime closed", async () => {
    const created = await admin(server, "POST", PATH, {
      name: "Patient",
      introspectionEndpoint: fake.url,
      clientId: "rs",
      clientSecret: "secret",
      user: "partner",
      timeoutMs: 100,
    });
    expect(created.status).toBe(201);
    await selectDirectly(server, "Patient");
    fake.behave({ kind: "hang" });
    const before = fake.calls;
    for (let i = 0; i < 3; i++) expect((await invokeWith(token(), server)).status).toBe(503);
    expect(fake.calls).toBe(before + 3); // each of the three was a call that timed out
    expect((await invokeWith(token(), server)).status).toBe(503);
    expect(fake.calls).toBe(before + 3); // open now: not called

    // Raising the threshold rebuilds the runtime: its breakers start closed and count anew.
    expect((await admin(server, "PUT", `${PATH}/Patient`, { breakerThreshold: 5 })).status).toBe(200);
    fake.behave({ kind: "answer", body: active() });
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
      status = (await invokeWith(token(), server)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 25));
    }
    expect(status).toBe(200);
    expect(fake.calls).toBeGreaterThan(before + 3);
  });
});
