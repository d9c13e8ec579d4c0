import { randomBytes } from "node:crypto";
import { decodeJwt, decodeProtectedHeader } from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.js";
import { freshPostgresDatabase } from "../support/postgres.js";
import { basic, DATABASES, startServer, type TestServer } from "../support/server.js";
import {
  admin,
  authorizationUrl,
  browse,
  createClient,
  discover,
  form,
  insecure,
  invoke,
  pkce,
  REDIRECT,
  seed,
  USER,
  type Json,
  type TestClient,
} from "./support.js";

/**
 * Issue 12, part 1: JWT access tokens (RFC 9068) signed with keys Conduit keeps (the private key sealed),
 * published at jwks_uri, rotated without breaking the tokens already issued, revocable at once, and
 * verifiable by another Conduit through the JWKS alone.
 */

const RESOURCE = "https://api.example.com/";

async function clientCredentials(
  server: TestServer,
  client: TestClient,
  extra: Record<string, string> = {},
): Promise<{ status: number; body: Json }> {
  return form(
    `${server.url}/oauth2/token`,
    { grant_type: "client_credentials", scope: "math", ...extra },
    { authorization: basic(client.clientId, client.clientSecret!) },
  );
}

async function token(
  server: TestServer,
  client: TestClient,
  extra: Record<string, string> = {},
): Promise<string> {
  const answer = await clientCredentials(server, client, extra);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body.access_token as string;
}

async function introspect(server: TestServer, rs: TestClient, value: string): Promise<Json> {
  const answer = await form(
    `${server.url}/oauth2/introspect`,
    { token: value },
    { authorization: basic(rs.clientId, rs.clientSecret!) },
  );
  expect(answer.status).toBe(200);
  return answer.body;
}

/** oauth4webapi as a resource server: validateJwtAccessToken against the metadata's jwks_uri. */
async function validate(
  server: TestServer,
  value: string,
  audience: string,
): Promise<oauth.JWTAccessTokenClaims> {
  const as = await discover(server);
  expect(as.jwks_uri).toBe(`${server.url}/oauth2/jwks`);
  const request = new Request(`${server.url}/resource`, { headers: { authorization: `Bearer ${value}` } });
  return oauth.validateJwtAccessToken(as, request, audience, insecure);
}

async function jwksKids(server: TestServer): Promise<string[]> {
  const response = await fetch(`${server.url}/oauth2/jwks`);
  expect(response.status).toBe(200);
  const body = (await response.json()) as { keys: Json[] };
  for (const key of body.keys) {
    // Public keys only.
    expect(key.d).toBeUndefined();
    expect(key.p).toBeUndefined();
  }
  return body.keys.map((k) => k.kid as string);
}

describe.each(DATABASES)("JWT access tokens (RFC 9068) on %s", (database) => {
  let server: TestServer;
  const clock = new ManualClock();
  let app: TestClient;
  let rs: TestClient;

  beforeAll(async () => {
    server = await startServer({ database, clock });
    await seed(server);
    expect((await admin(server, "PUT", "/oauth/settings", { accessTokenFormat: "jwt" })).status).toBe(200);
    const machine = {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "alice",
    };
    app = await createClient(server, machine);
    rs = await createClient(server, machine);
  });

  afterAll(async () => {
    await server?.close();
  });

  it("issues a JWT that oauth4webapi validates against jwks_uri, with the RFC 9068 claims, and runs on /invoke", async () => {
    const value = await token(server, app);
    const header = decodeProtectedHeader(value);
    expect(header.typ).toBe("at+jwt");
    expect(header.alg).toBe("ES256");
    expect(await jwksKids(server)).toContain(header.kid);
    const claims = await validate(server, value, app.clientId);
    expect(claims.iss).toBe(server.url);
    // RFC 9068 §2.2: client_credentials has no resource owner, the subject is the client.
    expect(claims.sub).toBe(app.clientId);
    expect(claims.client_id).toBe(app.clientId);
    expect(claims.scope).toBe("math");
    expect(claims.exp - claims.iat).toBe(3600);
    const response = await invoke(server, "pub.math/randomDouble", value);
    expect(response.status).toBe(200);
    expect(typeof ((await response.json()) as Json).number).toBe("number");
    // Scopes still decide: pub.string is not covered by `math`.
    expect((await invoke(server, "pub.string/length?inString=abc", value)).status).toBe(403);
    // Introspection answers the same token, with its jti.
    const active = await introspect(server, rs, value);
    expect(active).toMatchObject({ active: true, client_id: app.clientId, scope: "math", jti: claims.jti });
    // The admin list shows its row, under the jti.
    const listed = await admin(server, "GET", `/oauth/tokens?clientId=${app.clientId}`);
    expect(listed.body.map((t: Json) => t.id)).toContain(claims.jti);
  });

  it("issues JWTs for the authorization code and refresh grants, with the user as sub (refresh tokens stay opaque)", async () => {
    const web = await createClient(server, {
      type: "confidential",
      redirectUris: [REDIRECT],
      grantTypes: ["authorization_code", "refresh_token"],
      scopes: ["math"],
    });
    const as = await discover(server);
    const { verifier, challenge } = await pkce();
    const url = await authorizationUrl(as, web.clientId, {
      redirect_uri: REDIRECT,
      scope: "math",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const callback = await browse(url);
    const code = callback.searchParams.get("code")!;
    const auth = { authorization: basic(web.clientId, web.clientSecret!) };
    const issued = await form(
      `${server.url}/oauth2/token`,
      { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier },
      auth,
    );
    expect(issued.status, JSON.stringify(issued.body)).toBe(200);
    expect(issued.body.refresh_token).not.toContain(".");
    const claims = await validate(server, issued.body.access_token, web.clientId);
    expect(claims.sub).toBe(USER);
    expect(claims.client_id).toBe(web.clientId);
    expect((await invoke(server, "pub.math/randomDouble", issued.body.access_token)).status).toBe(200);
    const refreshed = await form(
      `${server.url}/oauth2/token`,
      { grant_type: "refresh_token", refresh_token: issued.body.refresh_token },
      auth,
    );
    expect(refreshed.status).toBe(200);
    expect((await validate(server, refreshed.body.access_token, web.clientId)).sub).toBe(USER);
    // RFC 8707 §2.2: a refresh may name the resource of the new access token. A bad one is refused before
    // the refresh token is exchanged, which stays usable.
    const badResource = await form(
      `${server.url}/oauth2/token`,
      { grant_type: "refresh_token", refresh_token: refreshed.body.refresh_token, resource: "not a uri" },
      auth,
    );
    expect(badResource.status).toBe(400);
    expect(badResource.body.error).toBe("invalid_target");
    const forResource = await form(
      `${server.url}/oauth2/token`,
      { grant_type: "refresh_token", refresh_token: refreshed.body.refresh_token, resource: RESOURCE },
      auth,
    );
    expect(forResource.status, JSON.stringify(forResource.body)).toBe(200);
    const audienced = await validate(server, forResource.body.access_token, RESOURCE);
    expect(audienced).toMatchObject({ aud: RESOURCE, sub: USER });
    // Revoking the refresh token takes the family's JWTs with it.
    await form(`${server.url}/oauth2/revoke`, { token: forResource.body.refresh_token }, auth);
    expect((await invoke(server, "pub.math/randomDouble", refreshed.body.access_token)).status).toBe(401);
    expect((await invoke(server, "pub.math/randomDouble", forResource.body.access_token)).status).toBe(401);
  });

  it("names the RFC 8707 resource as aud when asked, and refuses a resource that is not an absolute URI", async () => {
    const value = await token(server, app, { resource: RESOURCE });
    expect((await validate(server, value, RESOURCE)).aud).toBe(RESOURCE);
    await expect(validate(server, value, app.clientId)).rejects.toThrow();
    const bad = await clientCredentials(server, app, { resource: "not a uri" });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe("invalid_target");
    const fragment = await clientCredentials(server, app, { resource: `${RESOURCE}#part` });
    expect(fragment.body.error).toBe("invalid_target");
  });

  it("refuses a forged or tampered JWT on /invoke", async () => {
    const value = await token(server, app);
    const [h, p, s] = value.split(".");
    const claims = JSON.parse(Buffer.from(p!, "base64url").toString()) as Json;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: "math strings" })).toString("base64url")}.${s}`;
    expect((await invoke(server, "pub.math/randomDouble", tampered)).status).toBe(401);
    expect((await introspect(server, rs, tampered)).active).toBe(false);
    expect((await invoke(server, "pub.math/randomDouble", `${h}.${p}.${"A".repeat(86)}`)).status).toBe(401);
  });

  it("refuses a revoked JWT at once, on /invoke and by introspection (RFC 7009 and the admin API)", async () => {
    // Revoked with /oauth2/revoke by its client.
    const first = await token(server, app);
    expect((await invoke(server, "pub.math/randomDouble", first)).status).toBe(200);
    const revoked = await form(
      `${server.url}/oauth2/revoke`,
      { token: first },
      { authorization: basic(app.clientId, app.clientSecret!) },
    );
    expect(revoked.status).toBe(200);
    expect((await invoke(server, "pub.math/randomDouble", first)).status).toBe(401);
    expect(await introspect(server, rs, first)).toEqual({ active: false });
    // Revoked with DELETE /admin/api/oauth/tokens/{jti}.
    const second = await token(server, app);
    expect((await invoke(server, "pub.math/randomDouble", second)).status).toBe(200);
    const jti = decodeJwt(second).jti!;
    expect((await admin(server, "DELETE", `/oauth/tokens/${jti}`)).status).toBe(204);
    expect((await invoke(server, "pub.math/randomDouble", second)).status).toBe(401);
    expect(await introspect(server, rs, second)).toEqual({ active: false });
    // The signature alone still verifies: only the stored row says it is revoked.
    await expect(validate(server, second, app.clientId)).resolves.toBeDefined();
  });

  it("lets a client override the global format, both ways", async () => {
    const opaque = await createClient(server, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "alice",
      accessTokenFormat: "opaque",
    });
    expect((await admin(server, "GET", `/oauth/clients/${opaque.clientId}`)).body.accessTokenFormat).toBe(
      "opaque",
    );
    const value = await token(server, opaque);
    expect(value).not.toContain(".");
    expect((await invoke(server, "pub.math/randomDouble", value)).status).toBe(200);
    // The global setting back to opaque; a client asking for jwt still gets JWTs.
    expect((await admin(server, "PUT", "/oauth/settings", { accessTokenFormat: "opaque" })).status).toBe(200);
    expect(await token(server, app)).not.toContain(".");
    expect(
      (await admin(server, "PUT", `/oauth/clients/${app.clientId}`, { accessTokenFormat: "jwt" })).status,
    ).toBe(200);
    const jwt = await token(server, app);
    expect(decodeProtectedHeader(jwt).typ).toBe("at+jwt");
    expect((await invoke(server, "pub.math/randomDouble", jwt)).status).toBe(200);
    // null: back to the global setting.
    expect(
      (await admin(server, "PUT", `/oauth/clients/${app.clientId}`, { accessTokenFormat: null })).status,
    ).toBe(200);
    expect(await token(server, app)).not.toContain(".");
    // Bad values are 400s naming the field.
    const bad = await admin(server, "PUT", `/oauth/clients/${app.clientId}`, { accessTokenFormat: "paseto" });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe("accessTokenFormat");
    const badSetting = await admin(server, "PUT", "/oauth/settings", { accessTokenFormat: "paseto" });
    expect(badSetting.status).toBe(400);
    expect(badSetting.body.field).toBe("accessTokenFormat");
    expect((await admin(server, "PUT", "/oauth/settings", { accessTokenFormat: "jwt" })).status).toBe(200);
  });

  it("keeps the private key sealed in the database, and never shows private material", async () => {
    await token(server, app);
    const rows = await server.conduit.storage.db.selectFrom("oauth_signing_keys").selectAll().execute();
    expect(rows.length).toBeGreaterThan(0);
    const published = await fetch(`${server.url}/oauth2/jwks`).then(
      (r) => r.json() as Promise<{ keys: Json[] }>,
    );
    for (const row of rows) {
      expect(row.private_key).toMatch(/^v2\./);
      expect(row.private_key).not.toContain('"d"');
      const opened = JSON.parse(server.conduit.secretBox.open(row.private_key)) as Json;
      expect(typeof opened.d).toBe("string");
      const jwk = published.keys.find((k) => k.kid === row.kid);
      if (jwk) expect(jwk.x ?? jwk.n).toBe(opened.x ?? opened.n);
      expect(JSON.stringify(rows)).not.toContain(opened.d);
    }
    const listed = await admin(server, "GET", "/oauth/keys");
    expect(listed.status).toBe(200);
    for (const key of listed.body)
      expect(Object.keys(key).sort()).toEqual(["alg", "createdAt", "expiresAt", "kid", "retiredAt", "state"]);
    expect(JSON.stringify(listed.body)).not.toMatch(/"d"|private/);
  });

  it("rotates: new tokens carry the new kid, old ones verify until they expire, then the old key leaves the JWKS", async () => {
    const before = await token(server, app);
    const oldKid = decodeProtectedHeader(before).kid!;
    const keysBefore = (await admin(server, "GET", "/oauth/keys")).body as Json[];
    const next = keysBefore.find((k) => k.state === "next");
    // The next key is published ahead of the rotation.
    expect(await jwksKids(server)).toEqual(expect.arrayContaining([oldKid, next.kid]));
    const rotated = await admin(server, "POST", "/oauth/keys/rotate", {});
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    expect(rotated.body).toMatchObject({ kid: next.kid, alg: "ES256", state: "current" });
    const newKid = rotated.body.kid as string;
    expect(newKid).not.toBe(oldKid);
    const after = await token(server, app);
    expect(decodeProtectedHeader(after)).toMatchObject({ kid: newKid, alg: "ES256", typ: "at+jwt" });
    const keys = (await admin(server, "GET", "/oauth/keys")).body as Json[];
    const following = keys.find((k) => k.state === "next");
    expect((await jwksKids(server)).sort()).toEqual([oldKid, newKid, following.kid].sort());
    // Both verify, for oauth4webapi and on /invoke.
    await validate(server, before, app.clientId);
    await validate(server, after, app.clientId);
    expect((await invoke(server, "pub.math/randomDouble", before)).status).toBe(200);
    expect((await invoke(server, "pub.math/randomDouble", after)).status).toBe(200);
    const old = keys.find((k) => k.kid === oldKid);
    expect(old.state).toBe("previous");
    // Its private key is gone from the database (nothing signs with it again); the public one verifies.
    const stored = await server.conduit.storage.db
      .selectFrom("oauth_signing_keys")
      .select(["kid", "private_key"])
      .execute();
    expect(stored.find((row) => row.kid === oldKid)?.private_key).toBe("");
    for (const row of stored.filter((r) => r.kid !== oldKid)) expect(row.private_key).toMatch(/^v2\./);
    // The longest lifetime is the global 3600 s (no client has its own).
    expect(Date.parse(old.expiresAt) - Date.parse(old.retiredAt)).toBe(3600 * 1000);
    // A bad alg is a 400 naming the field.
    const bad = await admin(server, "POST", "/oauth/keys/rotate", { alg: "HS256" });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe("alg");
    // Past the longest lifetime: the old key has left the JWKS; its tokens have expired anyway.
    clock.advance(3601 * 1000);
    expect(await jwksKids(server)).not.toContain(oldKid);
    expect(await jwksKids(server)).toContain(newKid);
    expect((await invoke(server, "pub.math/randomDouble", before)).status).toBe(401);
    expect((await admin(server, "GET", "/oauth/keys")).body.find((k: Json) => k.kid === oldKid).state).toBe(
      "retired",
    );
    expect((await invoke(server, "pub.math/randomDouble", after)).status).toBe(401);
    const fresh = await token(server, app);
    expect((await invoke(server, "pub.math/randomDouble", fresh)).status).toBe(200);
  });

  it("rotates to RS256 on request; oauth4webapi validates those tokens too", async () => {
    const rotated = await admin(server, "POST", "/oauth/keys/rotate", { alg: "RS256" });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ alg: "RS256", state: "current" });
    const value = await token(server, app);
    expect(decodeProtectedHeader(value)).toMatchObject({ alg: "RS256", kid: rotated.body.kid });
    expect((await validate(server, value, app.clientId)).client_id).toBe(app.clientId);
    expect((await invoke(server, "pub.math/randomDouble", value)).status).toBe(200);
    // The next key follows the algorithm.
    const keys = (await admin(server, "GET", "/oauth/keys")).body as Json[];
    expect(keys.find((k) => k.state === "next").alg).toBe("RS256");
  });
});

describe("two nodes on one PostgreSQL agree on the current key", () => {
  let database: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let nodeA: TestServer;
  let nodeB: TestServer;
  let app: TestClient;

  beforeAll(async () => {
    database = await freshPostgresDatabase();
    // One cluster: one server key, one public URL (the issuer).
    const env = {
      CONDUIT_SECRET_KEY: randomBytes(32).toString("base64"),
      CONDUIT_PUBLIC_URL: "https://conduit.example.com",
    };
    nodeA = await startServer({ databaseUrl: database.url, env });
    nodeB = await startServer({ databaseUrl: database.url, env });
    await seed(nodeA);
    expect((await admin(nodeA, "PUT", "/oauth/settings", { accessTokenFormat: "jwt" })).status).toBe(200);
    app = await createClient(nodeA, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "alice",
    });
  });

  afterAll(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await database?.drop();
  });

  it("signs with one key on both nodes, verifies each other's tokens, and follows a rotation made on the other node", async () => {
    const fromA = await token(nodeA, app);
    // B's settings cache may take its TTL to see the format: poll until B issues JWTs.
    await expect.poll(async () => (await token(nodeB, app)).includes("."), { timeout: 10_000 }).toBe(true);
    const fromB = await token(nodeB, app);
    expect(decodeProtectedHeader(fromB).kid).toBe(decodeProtectedHeader(fromA).kid);
    expect((await invoke(nodeB, "pub.math/randomDouble", fromA)).status).toBe(200);
    expect((await invoke(nodeA, "pub.math/randomDouble", fromB)).status).toBe(200);
    const rotated = await admin(nodeA, "POST", "/oauth/keys/rotate", {});
    expect(rotated.status).toBe(200);
    const newKid = rotated.body.kid as string;
    // B learns of it through the change feed (or its TTL): its new tokens carry the new kid.
    await expect
      .poll(async () => decodeProtectedHeader(await token(nodeB, app)).kid, { timeout: 10_000 })
      .toBe(newKid);
    const afterA = await token(nodeA, app);
    expect(decodeProtectedHeader(afterA).kid).toBe(newKid);
    // Both keys published by both nodes; old tokens keep working on both.
    for (const node of [nodeA, nodeB]) {
      expect(await jwksKids(node)).toEqual(
        expect.arrayContaining([newKid, decodeProtectedHeader(fromA).kid]),
      );
      expect((await invoke(node, "pub.math/randomDouble", fromA)).status).toBe(200);
      expect((await invoke(node, "pub.math/randomDouble", afterA)).status).toBe(200);
    }
    // A revocation on one node is refused at once on the other.
    const jti = decodeJwt(afterA).jti!;
    expect((await admin(nodeB, "DELETE", `/oauth/tokens/${jti}`)).status).toBe(204);
    expect((await invoke(nodeA, "pub.math/randomDouble", afterA)).status).toBe(401);
  });
});

describe.each(DATABASES)("a second Conduit trusts the first through its JWKS (%s)", (database) => {
  let nodeA: TestServer;
  let nodeB: TestServer;
  let app: TestClient;

  beforeAll(async () => {
    nodeA = await startServer({ database });
    nodeB = await startServer({ database });
    await seed(nodeA);
    await seed(nodeB);
    expect((await admin(nodeA, "PUT", "/oauth/settings", { accessTokenFormat: "jwt" })).status).toBe(200);
    app = await createClient(nodeA, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "alice",
    });
    // B is a resource server of A: registered as a client (its credentials are only for introspection,
    // which a JWT never needs).
    const rs = await createClient(nodeA, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: [],
      runAsUser: "alice",
    });
    const created = await admin(nodeB, "POST", "/oauth/external-servers", {
      name: "nodeA",
      discoveryUrl: `${nodeA.url}/.well-known/oauth-authorization-server`,
      clientId: rs.clientId,
      clientSecret: rs.clientSecret,
      user: "alice",
      audience: RESOURCE,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ issuer: nodeA.url, jwksUri: `${nodeA.url}/oauth2/jwks` });
    expect((await admin(nodeB, "PUT", "/oauth/settings", { authorizationServer: "nodeA" })).status).toBe(200);
  });

  afterAll(async () => {
    await nodeA?.close();
    await nodeB?.close();
  });

  async function metric(server: TestServer, name: string): Promise<number> {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return text
      .split("\n")
      .filter((line) => line.startsWith(name) && line.includes('server="nodeA"'))
      .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
  }

  it("accepts A's JWTs on B's /invoke with no introspection call, and refuses other audiences", async () => {
    const value = await token(nodeA, app, { resource: RESOURCE });
    const response = await invoke(nodeB, "pub.math/randomDouble", value);
    expect(response.status, await response.clone().text()).toBe(200);
    expect((await invoke(nodeB, "pub.string/length?inString=abc", value)).status).toBe(403);
    expect(await metric(nodeB, "conduit_jwt_verifications_total")).toBeGreaterThanOrEqual(1);
    expect(await metric(nodeB, "conduit_introspection_requests_total")).toBe(0);
    // A token for another audience (the client itself) is refused by B.
    const other = await token(nodeA, app);
    expect((await invoke(nodeB, "pub.math/randomDouble", other)).status).toBe(401);
    // A rotation on A: B fetches the JWKS again for the unknown kid, still without introspecting.
    const rotated = await admin(nodeA, "POST", "/oauth/keys/rotate", {});
    expect(rotated.status).toBe(200);
    const afterRotation = await token(nodeA, app, { resource: RESOURCE });
    expect(decodeProtectedHeader(afterRotation).kid).toBe(rotated.body.kid);
    expect((await invoke(nodeB, "pub.math/randomDouble", afterRotation)).status).toBe(200);
    expect((await invoke(nodeB, "pub.math/randomDouble", value)).status).toBe(200);
    expect(await metric(nodeB, "conduit_introspection_requests_total")).toBe(0);
  });
});
