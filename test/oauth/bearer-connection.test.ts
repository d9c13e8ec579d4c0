import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, startServer, type TestServer } from "../support/server.js";
import { admin as adminCall, clientCredentialsToken } from "./support.js";

/**
 * A keep-alive connection that presents the same token again may be answered from memory (SQLite), but
 * a revocation, a disabled client or a deleted user must still be refused on that connection's very next
 * request (RFC 6750 §3.1 invalid_token).
 */
describe.each(DATABASES)("bearer tokens on one keep-alive connection (%s)", (database) => {
  let server: TestServer;
  let pool: Pool;
  const admin = (method: string, path: string, body?: unknown) => adminCall(server, method, path, body);

  beforeAll(async () => {
    server = await startServer({ database });
    pool = new Pool(server.url, { connections: 1, pipelining: 1 });
    expect((await admin("POST", "/oauth/scopes", { name: "math", values: ["pub.math"] })).status).toBe(201);
    expect((await admin("POST", "/users", { username: "robot", password: "robot-password" })).status).toBe(
      201,
    );
  });
  afterAll(async () => {
    await pool.close();
    await server.close();
  });

  const newToken = (runAsUser = "robot") => clientCredentialsToken(server, runAsUser, ["math"]);

  const invoke = async (token: string) => {
    const res = await pool.request({
      path: "/invoke/pub.math/randomDouble",
      method: "GET",
      headers: { authorization: `Bearer ${token}` },
    });
    const text = await res.body.text();
    return { status: res.statusCode, challenge: String(res.headers["www-authenticate"] ?? ""), text };
  };

  it("refuses a token revoked between two requests of the same connection", async () => {
    const { client, token } = await newToken();
    expect((await invoke(token)).status).toBe(200);
    expect((await invoke(token)).status).toBe(200);
    const revoked = await fetch(`${server.url}/oauth2/revoke`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: `token=${token}`,
    });
    expect(revoked.status).toBe(200);
    const after = await invoke(token);
    expect(after.status).toBe(401);
    expect(after.challenge).toContain('error="invalid_token"');
  });

  it("refuses the token of a client disabled between two requests", async () => {
    const { client, token } = await newToken();
    expect((await invoke(token)).status).toBe(200);
    expect((await admin("PUT", `/oauth/clients/${client.clientId}`, { enabled: false })).status).toBe(200);
    expect((await invoke(token)).status).toBe(401);
  });

  it("refuses the token of a user deleted between two requests", async () => {
    expect((await admin("POST", "/users", { username: "temp", password: "temp-password" })).status).toBe(201);
    const { token } = await newToken("temp");
    expect((await invoke(token)).status).toBe(200);
    expect((await admin("DELETE", "/users/temp")).status).toBe(204);
    expect((await invoke(token)).status).toBe(401);
  });

  it("checks scopes on every request: a scope narrowed between two requests refuses the service", async () => {
    const { token } = await newToken();
    expect((await invoke(token)).status).toBe(200);
    expect((await admin("PUT", "/oauth/scopes/math", { values: ["pub.string"] })).status).toBe(200);
    const after = await invoke(token);
    expect(after.status).toBe(403);
    expect(after.challenge).toContain('error="insufficient_scope"');
    expect((await admin("PUT", "/oauth/scopes/math", { values: ["pub.math"] })).status).toBe(200);
  });
});
