import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fastInvokeOf } from "../../src/http/app.js";
import { tokenDigest } from "../../src/oauth/ids.js";
import { TOKEN_CACHE_MS } from "../../src/oauth/server.js";
import { freshPostgresDatabase } from "../support/postgres.js";
import { basic, startServer, type TestServer } from "../support/server.js";
import { admin, clientCredentialsToken, type TestClient } from "./support.js";

/**
 * Two nodes on one PostgreSQL: node B remembers this server's access tokens (its token cache, and the
 * answer on a keep-alive connection), and drops them when node A revokes one or disables its client, as
 * soon as A's notification arrives (RFC 7009 §2: a propagation delay implementations "should minimize").
 * A change that no notification carried (a row written by hand) is still seen once the cache entry ends:
 * TOKEN_CACHE_MS.postgres.
 */
describe("this server's access tokens remembered on two PostgreSQL nodes", () => {
  let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let nodeA: TestServer;
  let nodeB: TestServer;
  let pool: Pool;

  beforeAll(async () => {
    database = await freshPostgresDatabase();
    const env = { CONDUIT_SECRET_KEY: randomBytes(32).toString("base64") };
    nodeA = await startServer({ databaseUrl: database.url, env });
    nodeB = await startServer({ databaseUrl: database.url, env });
    expect((await admin(nodeA, "POST", "/oauth/scopes", { name: "math", values: ["pub.math"] })).status).toBe(
      201,
    );
    // One keep-alive connection to node B, so its answers may come from the connection's memory.
    pool = new Pool(nodeB.url, { connections: 1, pipelining: 1 });
  });

  afterAll(async () => {
    await pool?.close();
    await nodeA?.close();
    await nodeB?.close();
    await database?.drop();
  });

  const onB = async (token: string): Promise<number> => {
    const res = await pool.request({
      path: "/invoke/pub.math/randomDouble",
      method: "GET",
      headers: { authorization: `Bearer ${token}` },
    });
    await res.body.text();
    return res.statusCode;
  };

  /** Node B answers 200 from memory: the second request takes the fast path, no look-up. */
  async function rememberedOnB(token: string): Promise<void> {
    expect(await onB(token)).toBe(200);
    const taken = fastInvokeOf(nodeB.app)!.taken;
    expect(await onB(token)).toBe(200);
    expect(fastInvokeOf(nodeB.app)!.taken).toBe(taken + 1);
  }

  /** How long node B goes on answering `status` after `since`, polled every 5 ms up to `withinMs`. */
  async function refusedWithin(token: string, withinMs: number): Promise<number> {
    const since = Date.now();
    for (;;) {
      const status = await onB(token);
      if (status === 401) return Date.now() - since;
      expect(status).toBe(200);
      if (Date.now() - since > withinMs) throw new Error(`node B still answers 200 after ${withinMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it("refuses on node B a token revoked on node A as soon as A's notification arrives", async () => {
    const { client, token } = await clientCredentialsToken(nodeA, "Administrator", ["math"]);
    await rememberedOnB(token);
    expect((await postToken(nodeA, "/oauth2/revoke", client, token)).status).toBe(200);
    const ms = await refusedWithin(token, 1_000);
    console.log(`node B refused the token revoked on node A after ${ms} ms`);
    expect(ms).toBeLessThan(1_000);
    // And by introspection on node B.
    const rs = await clientCredentialsToken(nodeA, "Administrator", ["math"]);
    expect(await introspect(nodeB, rs.client, token)).toEqual({ active: false });
  });

  it("refuses on node B the tokens of a client disabled on node A", async () => {
    const { client, token } = await clientCredentialsToken(nodeA, "Administrator", ["math"]);
    await rememberedOnB(token);
    expect((await admin(nodeA, "PUT", `/oauth/clients/${client.clientId}`, { enabled: false })).status).toBe(
      200,
    );
    expect(await refusedWithin(token, 1_000)).toBeLessThan(1_000);
  });

  it("sees a revocation no notification carried once the cache entry ends (fails closed)", async () => {
    const { token } = await clientCredentialsToken(nodeA, "Administrator", ["math"]);
    await rememberedOnB(token);
    // Revoked behind both nodes' backs: no change is published.
    const revokedAt = Date.now();
    const updated = await sql`update oauth_tokens set revoked_at = ${revokedAt} where digest = ${tokenDigest(
      token,
    )}`.execute(nodeA.conduit.storage.db);
    expect(Number(updated.numAffectedRows)).toBe(1);
    const ms = await refusedWithin(token, TOKEN_CACHE_MS.postgres + 1_000);
    console.log(`node B refused the token revoked without a notification after ${ms} ms`);
    expect(ms).toBeLessThanOrEqual(TOKEN_CACHE_MS.postgres + 500);
  }, 15_000);
});

/** `token=<token>` posted to an endpoint of the server as a client (client_secret_basic). */
function postToken(server: TestServer, path: string, client: TestClient, token: string): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: basic(client.clientId, client.clientSecret!),
    },
    body: new URLSearchParams({ token }),
  });
}

async function introspect(server: TestServer, client: TestClient, token: string): Promise<unknown> {
  const res = await postToken(server, "/oauth2/introspect", client, token);
  expect(res.status).toBe(200);
  return res.json();
}
