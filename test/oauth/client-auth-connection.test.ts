import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, startServer, type TestServer } from "../support/server.js";

/**
 * A keep-alive connection that authenticates a client again with the same Basic header is not hashed
 * again, but a new secret (once the overlap has passed) or a disabled client is refused on its very next
 * request (RFC 6749 §2.3.1, §5.2 invalid_client).
 */
describe.each(DATABASES)("client authentication on one keep-alive connection (%s)", (database) => {
  let server: TestServer;
  let pool: Pool;
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}/admin/api${path}`, {
      method,
      headers: {
        authorization: server.adminAuth,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };
  const token = async (id: string, secret: string) => {
    const res = await pool.request({
      path: "/oauth2/token",
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials&scope=math",
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, string> };
  };

  beforeAll(async () => {
    server = await startServer({ database });
    pool = new Pool(server.url, { connections: 1, pipelining: 1 });
    expect((await admin("POST", "/oauth/scopes", { name: "math", values: ["pub.math"] })).status).toBe(201);
    expect((await admin("PUT", "/oauth/settings", { secretOverlapSeconds: 0 })).status).toBe(200);
  });
  afterAll(async () => {
    await pool.close();
    await server.close();
  });

  async function newClient() {
    const created = await admin("POST", "/oauth/clients", {
      clientName: `c-${Math.random()}`,
      version: "1",
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "Administrator",
    });
    expect(created.status).toBe(201);
    return { id: created.body.clientId!, secret: created.body.clientSecret! };
  }

  it("refuses the old secret on the same connection once a new one is generated", async () => {
    const client = await newClient();
    expect((await token(client.id, client.secret)).status).toBe(200);
    expect((await token(client.id, client.secret)).status).toBe(200);
    const rotated = await admin("POST", `/oauth/clients/${client.id}/secret`);
    expect(rotated.status).toBe(200);
    const old = await token(client.id, client.secret);
    expect(old.status).toBe(401);
    expect(old.body.error).toBe("invalid_client");
    expect((await token(client.id, rotated.body.clientSecret!)).status).toBe(200);
  });

  it("refuses a client disabled between two requests of the same connection", async () => {
    const client = await newClient();
    expect((await token(client.id, client.secret)).status).toBe(200);
    expect((await admin("PUT", `/oauth/clients/${client.id}`, { enabled: false })).status).toBe(200);
    const refused = await token(client.id, client.secret);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe("invalid_client");
  });

  it("refuses a wrong secret even after the same client succeeded on the connection", async () => {
    const client = await newClient();
    expect((await token(client.id, client.secret)).status).toBe(200);
    expect((await token(client.id, `${client.secret}x`)).status).toBe(401);
    expect((await token(client.id, client.secret)).status).toBe(200);
  });
});
