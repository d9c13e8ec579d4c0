import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DATABASES, startServer, type TestServer } from "../support/server.js";
import { admin, createUser } from "./support/conduit.js";
import { startThirdParty, type ThirdParty } from "./support/third-party.js";

const BASE = "/admin/api/oauth/external-servers";
const SECRET = "the-okta-client-secret-Zx9!";

describe.each(DATABASES)("external authorization servers in the admin API (%s)", (database) => {
  let server: TestServer;
  let thirdParty: ThirdParty;

  beforeAll(async () => {
    server = await startServer({ database });
    thirdParty = await startThirdParty();
    await createUser(server, "partner");
  });
  afterAll(async () => {
    await server?.close();
    await thirdParty?.stop();
  });

  const okta = (extra: Record<string, unknown> = {}) => ({
    name: "Okta",
    introspectionEndpoint: "https://example.okta.com/oauth2/default/v1/introspect",
    clientId: "0oa1b2c3",
    clientSecret: SECRET,
    user: "partner",
    ...extra,
  });

  test("POST creates with the documented defaults and never returns the secret", async () => {
    const created = await admin(server, "POST", BASE, okta());
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "Okta",
      introspectionEndpoint: "https://example.okta.com/oauth2/default/v1/introspect",
      clientId: "0oa1b2c3",
      user: "partner",
      cacheTtlSeconds: 60,
      inactiveCacheTtlSeconds: 5,
      staleIfErrorSeconds: 0,
      timeoutMs: 2000,
      issuer: null,
      jwksUri: null,
    });
    expect(JSON.stringify(created.body)).not.toContain(SECRET);
    expect(created.body).not.toHaveProperty("clientSecret");

    const one = await admin(server, "GET", `${BASE}/Okta`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(created.body);
    const list = await admin(server, "GET", BASE);
    expect(list.status).toBe(200);
    expect(list.body).toEqual([created.body]);
    expect(JSON.stringify(list.body)).not.toContain(SECRET);
    expect(await server.conduit.resource.externalServerExists("Okta")).toBe(true);
    expect(await server.conduit.resource.externalServerExists("Auth0")).toBe(false);
  });

  test("the client secret is encrypted at rest with the server key", async () => {
    const row = await server.conduit.storage.db
      .selectFrom("external_servers")
      .selectAll()
      .where("name", "=", "Okta")
      .executeTakeFirstOrThrow();
    expect(row.client_secret).not.toContain(SECRET);
    expect(row.client_secret).toMatch(/^v2\./);
    expect(server.conduit.secretBox.open(row.client_secret)).toBe(SECRET);
    expect(JSON.stringify(row)).not.toContain(SECRET);
  });

  test("PUT changes the given fields, keeps the secret unless a new one is given", async () => {
    const before = await server.conduit.storage.db
      .selectFrom("external_servers")
      .select("client_secret")
      .where("name", "=", "Okta")
      .executeTakeFirstOrThrow();
    const updated = await admin(server, "PUT", `${BASE}/Okta`, { cacheTtlSeconds: 30, timeoutMs: 500 });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ cacheTtlSeconds: 30, timeoutMs: 500, clientId: "0oa1b2c3" });
    const kept = await server.conduit.storage.db
      .selectFrom("external_servers")
      .select("client_secret")
      .where("name", "=", "Okta")
      .executeTakeFirstOrThrow();
    expect(kept.client_secret).toBe(before.client_secret);

    const rotated = await admin(server, "PUT", `${BASE}/Okta`, { clientSecret: "a-new-secret" });
    expect(rotated.status).toBe(200);
    expect(JSON.stringify(rotated.body)).not.toContain("a-new-secret");
    const row = await server.conduit.storage.db
      .selectFrom("external_servers")
      .select("client_secret")
      .where("name", "=", "Okta")
      .executeTakeFirstOrThrow();
    expect(server.conduit.secretBox.open(row.client_secret)).toBe("a-new-secret");
  });

  test("bad input gets a 400 that names the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [okta({ name: "Auth0", introspectionEndpoint: "not a url" }), "introspectionEndpoint"],
      [okta({ name: "Auth0", introspectionEndpoint: "ftp://x/introspect" }), "introspectionEndpoint"],
      [okta({ name: "Auth0", clientSecret: undefined }), "clientSecret"],
      [okta({ name: "Auth0", clientId: 42 }), "clientId"],
      [okta({ name: "Auth0", user: undefined }), "user"],
      [okta({ name: "Auth0", user: "no-such-user" }), "user"],
      [okta({ name: "Auth0", cacheTtlSeconds: -1 }), "cacheTtlSeconds"],
      [okta({ name: "Auth0", timeoutMs: "fast" }), "timeoutMs"],
      [okta({ name: "local" }), "name"],
      [okta({ name: "" }), "name"],
      [okta({ name: "Auth0", jwksUri: "https://auth0.example/jwks" }), "issuer"],
    ];
    for (const [body, field] of cases) {
      const answer = await admin(server, "POST", BASE, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.field, JSON.stringify(answer.body)).toBe(field);
    }
    const unknown = await admin(server, "POST", BASE, okta({ name: "Auth0", colour: "blue" }));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe("unknown_field");
    const notObject = await admin(server, "POST", BASE, ["Okta"]);
    expect(notObject.status).toBe(400);
    const rename = await admin(server, "PUT", `${BASE}/Okta`, { name: "Other" });
    expect(rename.status).toBe(400);
    expect((await admin(server, "GET", BASE)).body).toHaveLength(1);
  });

  test("a duplicate name is 409, an unknown one 404", async () => {
    expect((await admin(server, "POST", BASE, okta())).status).toBe(409);
    expect((await admin(server, "GET", `${BASE}/Nope`)).status).toBe(404);
    expect((await admin(server, "PUT", `${BASE}/Nope`, { timeoutMs: 100 })).status).toBe(404);
    expect((await admin(server, "DELETE", `${BASE}/Nope`)).status).toBe(404);
  });

  test("a discovery URL fills the issuer, the JWKS URI and the introspection endpoint", async () => {
    const created = await admin(server, "POST", BASE, {
      name: "Partner",
      discoveryUrl: `${thirdParty.issuer}/.well-known/openid-configuration`,
      clientId: "conduit-rs",
      clientSecret: "x",
      user: "partner",
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      issuer: thirdParty.issuer,
      jwksUri: `${thirdParty.issuer}/jwks`,
      introspectionEndpoint: `${thirdParty.issuer}/token/introspection`,
    });
    const sameIssuer = await admin(server, "POST", BASE, okta({ name: "Copy", issuer: thirdParty.issuer }));
    expect(sameIssuer.status).toBe(409);
    expect(sameIssuer.body.error).toBe("issuer_in_use");
    const broken = await admin(server, "POST", BASE, {
      name: "Broken",
      discoveryUrl: `${thirdParty.issuer}/no-such-document`,
      clientId: "a",
      clientSecret: "b",
      user: "partner",
    });
    expect(broken.status).toBe(400);
    expect(broken.body.error).toBe("discovery_failed");
  });

  test("the admin API is for Administrators only", async () => {
    const anonymous = await fetch(`${server.url}${BASE}`);
    expect(anonymous.status).toBe(401);
    const asPartner = await fetch(`${server.url}${BASE}`, {
      headers: { authorization: `Basic ${Buffer.from("partner:a-long-password-1").toString("base64")}` },
    });
    expect(asPartner.status).toBe(403);
  });

  test("DELETE removes it, and it survives nothing", async () => {
    expect((await admin(server, "DELETE", `${BASE}/Partner`)).status).toBe(204);
    expect((await admin(server, "DELETE", `${BASE}/Okta`)).status).toBe(204);
    expect((await admin(server, "GET", `${BASE}/Okta`)).status).toBe(404);
    expect((await admin(server, "GET", BASE)).body).toEqual([]);
    expect(await server.conduit.resource.externalServerExists("Okta")).toBe(false);
  });
});
