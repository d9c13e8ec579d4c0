import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fastInvokeOf } from "../../src/http/app.js";
import { admin as adminCall, clientCredentialsToken } from "../oauth/support.js";
import { basic, DATABASES, startServer, type TestServer } from "../support/server.js";

/**
 * The /invoke fast path in front of Fastify (src/http/fast-invoke.ts): it answers a plain GET whose
 * credentials this connection proved before, exactly as Fastify's route would, and hands everything else,
 * including every request whose credentials have changed since, to Fastify.
 */
describe.each(DATABASES)("the /invoke fast path (%s)", (database) => {
  let server: TestServer;
  const pools: Pool[] = [];
  const taken = () => fastInvokeOf(server.app)!.taken;
  const admin = (method: string, path: string, body?: unknown) => adminCall(server, method, path, body);
  /** One keep-alive connection: its second request with the same credentials may take the fast path. */
  const connection = () => {
    const pool = new Pool(server.url, { connections: 1, pipelining: 1 });
    pools.push(pool);
    return async (
      path: string,
      authorization: string | string[],
      method = "GET",
      extra: { headers?: Record<string, string>; body?: string } = {},
    ) => {
      const res = await pool.request({
        path,
        method,
        headers: { authorization, ...extra.headers },
        ...(extra.body === undefined ? {} : { body: extra.body }),
      });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, text };
    };
  };

  beforeAll(async () => {
    server = await startServer({ database });
    expect((await admin("POST", "/oauth/scopes", { name: "math", values: ["pub.math"] })).status).toBe(201);
    expect((await admin("POST", "/users", { username: "robot", password: "robot-password" })).status).toBe(
      201,
    );
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await server.close();
  });

  const newToken = (runAsUser = "robot") => clientCredentialsToken(server, runAsUser, ["math"]);

  /** The headers that describe the answer (Date and the connection's own headers vary). */
  const described = (headers: Record<string, unknown>) => ({
    type: headers["content-type"],
    length: Number(headers["content-length"]),
    challenge: headers["www-authenticate"],
  });

  it("answers a Basic caller's second request itself, with the answer Fastify's route gives", async () => {
    const send = connection();
    const auth = basic("robot", "robot-password");
    const before = taken();
    const first = await send("/invoke/pub.math/randomDouble", auth);
    expect(taken()).toBe(before);
    const second = await send("/invoke/pub.math/randomDouble", auth);
    expect(taken()).toBe(before + 1);
    for (const answer of [first, second]) {
      expect(answer.status).toBe(200);
      expect(described(answer.headers)).toEqual({
        type: "application/json; charset=utf-8",
        length: Buffer.byteLength(answer.text),
        challenge: undefined,
      });
      expect(Object.keys(JSON.parse(answer.text) as object)).toEqual(["number"]);
    }
    // The error of an unknown service, and of a name that is not one, are Fastify's route's too.
    for (const path of ["/invoke/pub.math/noSuchService", "/invoke/pub.math/"]) {
      const fresh = await connection()(path, auth);
      const n = taken();
      const fast = await send(path, auth);
      expect(taken()).toBe(n + 1);
      expect(fast.status).toBe(404);
      expect(fast.text).toBe(fresh.text);
      expect(described(fast.headers)).toEqual(described(fresh.headers));
    }
  });

  it("gives a service the same transport on both paths (and never the credentials)", async () => {
    const send = connection();
    const auth = basic("robot", "robot-password");
    const path = "/invoke/pub.flow/getTransportInfo";
    await send(path, auth);
    const n = taken();
    // A query sends it to Fastify's route (the transport's path leaves the query out).
    const viaFastify = await send(`${path}?via=fastify`, auth);
    expect(taken()).toBe(n);
    const viaFastPath = await send(path, auth);
    expect(taken()).toBe(n + 1);
    expect(viaFastPath.status).toBe(200);
    const transportOf = (text: string) => (JSON.parse(text) as { transport: unknown }).transport;
    expect(transportOf(viaFastPath.text)).toEqual(transportOf(viaFastify.text));
    expect(JSON.parse(viaFastPath.text)).toMatchObject({ transport: { method: "GET", path } });
    expect(viaFastPath.text).not.toContain("Basic ");
  });

  it("leaves to Fastify a query, another method, percent-encoding, unknown credentials and a changed password", async () => {
    const send = connection();
    const auth = basic("robot", "robot-password");
    expect((await send("/invoke/pub.math/randomDouble", auth)).status).toBe(200);
    const n = taken();
    const add = await send("/invoke/pub.math/addInts?num1=2&num2=3", auth);
    expect(add.status).toBe(200);
    expect(JSON.parse(add.text)).toMatchObject({ value: 5 });
    expect((await send("/invoke/pub.math/randomDouble", auth, "POST")).status).toBe(200);
    expect((await send("/invoke/pub.math/random%44ouble", auth)).status).toBe(200);
    expect((await send("/invoke/pub.math/randomDouble", basic("robot", "wrong-password"))).status).toBe(401);
    // A GET that declares a body goes to Fastify's route, which does not read a GET's body (RFC 9110 §9.3.1
    // gives it no meaning): the service sees no input.
    const withBody = await send("/invoke/pub.math/addInts", auth, "GET", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ num1: 4, num2: 5 }),
    });
    expect(withBody.status).toBe(400);
    expect(JSON.parse(withBody.text)).toMatchObject({ error: "missing_input", field: "num1" });
    // Of two Authorization headers the first counts, on both paths: a wrong one first is refused.
    expect(
      (await send("/invoke/pub.math/randomDouble", [basic("robot", "wrong-password"), auth])).status,
    ).toBe(401);
    expect(taken()).toBe(n);
    expect(
      (await send("/invoke/pub.math/randomDouble", [auth, basic("robot", "wrong-password")])).status,
    ).toBe(200);
    expect(taken()).toBe(n + 1);
    expect((await send("/invoke/pub.math/randomDouble", auth)).status).toBe(200);
    expect(taken()).toBe(n + 2);
    expect((await send("/invoke/pub.math/randomDouble", basic("robot", "wrong-password"))).status).toBe(401);
    expect(taken()).toBe(n + 2);
    expect((await send("/invoke/pub.math/randomDouble", auth)).status).toBe(200);
    expect(taken()).toBe(n + 3);
    // A password changed between two requests of the connection: refused on the next one, by Fastify.
    expect((await admin("PUT", "/users/robot", { password: "robot-password-2" })).status).toBe(200);
    const refused = await send("/invoke/pub.math/randomDouble", auth);
    expect(refused.status).toBe(401);
    expect(taken()).toBe(n + 3);
    expect((await admin("PUT", "/users/robot", { password: "robot-password" })).status).toBe(200);
  });

  it("fails closed on a bearer token: revoked, disabled client, deleted user, narrowed scope", async () => {
    const send = connection();
    const invoke = (token: string) => send("/invoke/pub.math/randomDouble", `Bearer ${token}`);
    // Revoked between two requests of the connection.
    const { client, token } = await newToken();
    expect((await invoke(token)).status).toBe(200);
    expect((await invoke(token)).status).toBe(200);
    const revoked = await fetch(`${server.url}/oauth2/revoke`, {
      method: "POST",
      headers: {
        authorization: basic(client.clientId, client.clientSecret!),
        "content-type": "application/x-www-form-urlencoded",
      },
      body: `token=${token}`,
    });
    expect(revoked.status).toBe(200);
    let n = taken();
    const afterRevoke = await invoke(token);
    expect(afterRevoke.status).toBe(401);
    expect(String(afterRevoke.headers["www-authenticate"])).toContain('error="invalid_token"');
    expect(taken()).toBe(n);
    // Its client disabled.
    const second = await newToken();
    await invoke(second.token);
    await invoke(second.token);
    expect((await admin("PUT", `/oauth/clients/${second.client.clientId}`, { enabled: false })).status).toBe(
      200,
    );
    n = taken();
    expect((await invoke(second.token)).status).toBe(401);
    expect(taken()).toBe(n);
    // Its user deleted.
    expect((await admin("POST", "/users", { username: "temp", password: "temp-password" })).status).toBe(201);
    const third = await newToken("temp");
    await invoke(third.token);
    await invoke(third.token);
    expect((await admin("DELETE", "/users/temp")).status).toBe(204);
    n = taken();
    expect((await invoke(third.token)).status).toBe(401);
    expect(taken()).toBe(n);
    // Its scope narrowed: the scopes are checked on every request, on the fast path too.
    const fourth = await newToken();
    expect((await invoke(fourth.token)).status).toBe(200);
    expect((await invoke(fourth.token)).status).toBe(200);
    expect((await admin("PUT", "/oauth/scopes/math", { values: ["pub.string"] })).status).toBe(200);
    const narrowed = await invoke(fourth.token);
    expect(narrowed.status).toBe(403);
    expect(String(narrowed.headers["www-authenticate"])).toContain('error="insufficient_scope"');
    expect((await admin("PUT", "/oauth/scopes/math", { values: ["pub.math"] })).status).toBe(200);
  });

  it("checks the ACL on every request: a service closed to the caller between two requests is refused", async () => {
    const send = connection();
    const auth = basic("robot", "robot-password");
    const path = "/invoke/pub.math/randomDouble";
    expect((await send(path, auth)).status).toBe(200);
    expect((await send(path, auth)).status).toBe(200);
    expect(
      (await admin("PUT", "/services/pub.math:randomDouble/acl", { acl: "Administrators" })).status,
    ).toBe(200);
    const n = taken();
    const refused = await send(path, auth);
    // Still this path's answer (the credentials are unchanged): the ACL is the runtime's check.
    expect(taken()).toBe(n + 1);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text)).toMatchObject({ error: "access_denied" });
    expect((await admin("PUT", "/services/pub.math:randomDouble/acl", { acl: "Default" })).status).toBe(200);
    expect((await send(path, auth)).status).toBe(200);
  });

  it("is counted in /metrics like every other answer", async () => {
    const count = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith('conduit_http_requests_total{status="200"}'));
      return Number(line?.split(" ")[1] ?? 0);
    };
    const send = connection();
    const auth = basic("robot", "robot-password");
    await send("/invoke/pub.math/randomDouble", auth);
    const before = await count();
    const n = taken();
    for (let i = 0; i < 5; i++) await send("/invoke/pub.math/randomDouble", auth);
    expect(taken()).toBe(n + 5);
    // The five answers, and the scrape of `before` itself (counted as it was sent).
    expect(await count()).toBe(before + 6);
  });
});
