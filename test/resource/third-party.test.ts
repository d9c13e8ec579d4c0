import { SignJWT, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DATABASES, startServer, type TestServer } from "../support/server.js";
import { admin, createUser, invokeWith, logText } from "./support/conduit.js";
import { APP, AUDIENCE, RESOURCE, startThirdParty, type ThirdParty } from "./support/third-party.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The article end to end: node-oidc-provider plays Okta; Conduit is configured only through its admin API
 * (a scope, the external server, the global settings), and a partner's client-credentials tokens run
 * /invoke/pub.math/randomDouble.
 */
describe.each(DATABASES)("a third-party authorization server, end to end (%s)", (database) => {
  let server: TestServer;
  let partner: ThirdParty;
  const issued: string[] = [];
  const token = async (scope: string, options: { resource?: string } = {}) => {
    const value = await partner.token(scope, options);
    issued.push(value);
    return value;
  };

  beforeAll(async () => {
    partner = await startThirdParty();
    server = await startServer({ database });
    await createUser(server, "partner");

    const scope = await admin(server, "POST", "/admin/api/oauth/scopes", {
      name: "invoke",
      description: "Run the math services",
      values: ["pub.math"],
    });
    expect(scope.status).toBe(201);
    const other = await admin(server, "POST", "/admin/api/oauth/scopes", {
      name: "reports",
      description: "String services only",
      values: ["pub.string"],
    });
    expect(other.status).toBe(201);

    const external = await admin(server, "POST", "/admin/api/oauth/external-servers", {
      name: "Partner",
      introspectionEndpoint: `${partner.issuer}/token/introspection`,
      clientId: RESOURCE.clientId,
      clientSecret: RESOURCE.clientSecret,
      user: "partner",
      cacheTtlSeconds: 1,
      timeoutMs: 1000,
      issuer: partner.issuer,
      jwksUri: `${partner.issuer}/jwks`,
      audience: AUDIENCE,
    });
    expect(external.status).toBe(201);

    const settings = await admin(server, "PUT", "/admin/api/oauth/settings", {
      authorizationServer: "Partner",
    });
    expect(settings.status).toBe(200);
    expect(settings.body.authorizationServer).toBe("Partner");
  });

  afterAll(async () => {
    await server?.close();
    await partner?.stop();
  });

  test("a client-credentials token of the third party runs pub.math:randomDouble", async () => {
    const before = partner.introspections();
    const answer = await invokeWith(await token("invoke"), server);
    expect(answer.status).toBe(200);
    expect(answer.body.number).toBeGreaterThanOrEqual(0);
    expect(answer.body.number).toBeLessThan(1);
    expect(partner.introspections()).toBe(before + 1);
  });

  test("a token whose scopes do not cover the service gets 403 insufficient_scope", async () => {
    const answer = await invokeWith(await token("reports"), server);
    expect(answer.status).toBe(403);
    const challenge = answer.headers.get("www-authenticate") ?? "";
    expect(challenge).toMatch(/^Bearer realm="[^"]+"/);
    expect(challenge).toMatch(/error="insufficient_scope"/);
    expect(challenge).toMatch(/scope="invoke"/);
  });

  test("a token revoked at the third party is refused once the cache TTL has passed", async () => {
    const value = await token("invoke");
    expect((await invokeWith(value, server)).status).toBe(200);
    await partner.revoke(value);
    await sleep(1_100); // cacheTtlSeconds: 1
    const answer = await invokeWith(value, server);
    expect(answer.status).toBe(401);
    expect(answer.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
  });

  test("N concurrent calls with a new token make exactly one introspection call", async () => {
    const value = await token("invoke");
    const before = partner.introspections();
    const answers = await Promise.all(Array.from({ length: 25 }, () => invokeWith(value, server)));
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 25 }, () => 200));
    expect(partner.introspections()).toBe(before + 1);
  });

  test("a JWT access token (resource indicator) is verified locally, with no introspection call", async () => {
    const jwt = await token("invoke", { resource: AUDIENCE });
    expect(jwt.split(".")).toHaveLength(3);
    const before = partner.introspections();
    const answers = await Promise.all([1, 2, 3].map(() => invokeWith(jwt, server)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(partner.introspections()).toBe(before);
    expect(partner.jwksFetches()).toBeGreaterThanOrEqual(1);

    const narrow = await token("reports", { resource: AUDIENCE });
    expect((await invokeWith(narrow, server)).status).toBe(403);
  });

  test("a JWT with the third party's issuer but not its key is refused (401), the JWKS refetched at most once", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ scope: "invoke", client_id: APP.clientId })
      .setProtectedHeader({ alg: "RS256", kid: "someone-elses-key" })
      .setIssuer(partner.issuer)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(privateKey);
    const before = partner.jwksFetches();
    const first = await invokeWith(forged, server);
    expect(first.status).toBe(401);
    expect(first.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
    // An unknown kid may refetch the JWKS, but never more than once per cooldown.
    expect(partner.jwksFetches() - before).toBeLessThanOrEqual(1);
  });

  test("several servers at once: a JWT goes to its issuer's server, opaque tokens to the selected one", async () => {
    const backup = await admin(server, "POST", "/admin/api/oauth/external-servers", {
      name: "Backup",
      introspectionEndpoint: "http://127.0.0.1:1/introspect",
      clientId: "backup",
      clientSecret: "backup-secret",
      user: "partner",
    });
    expect(backup.status).toBe(201);
    expect(
      (await admin(server, "PUT", "/admin/api/oauth/settings", { authorizationServer: "Backup" })).status,
    ).toBe(200);
    try {
      const before = partner.introspections();
      expect((await invokeWith(await token("invoke", { resource: AUDIENCE }), server)).status).toBe(200);
      // The opaque token goes to Backup, which cannot be reached: 503, and Partner is not asked.
      expect((await invokeWith(await token("invoke"), server)).status).toBe(503);
      expect(partner.introspections()).toBe(before);
    } finally {
      await admin(server, "PUT", "/admin/api/oauth/settings", { authorizationServer: "Partner" });
      expect((await admin(server, "DELETE", "/admin/api/oauth/external-servers/Backup")).status).toBe(204);
    }
  });

  test("the service's ACL is checked for the configured user after the scope", async () => {
    const value = await token("invoke");
    const restrict = await admin(server, "PUT", "/admin/api/services/pub.math:randomDouble/acl", {
      acl: "Administrators",
    });
    expect(restrict.status).toBe(200);
    try {
      const answer = await invokeWith(value, server);
      expect(answer.status).toBe(403);
      expect(answer.body.error).toBe("access_denied");
    } finally {
      await admin(server, "PUT", "/admin/api/services/pub.math:randomDouble/acl", { acl: null });
    }
    expect((await invokeWith(value, server)).status).toBe(200);
  });

  test("the selected server cannot be deleted; selecting `local` makes the third party's tokens unknown", async () => {
    const refused = await admin(server, "DELETE", "/admin/api/oauth/external-servers/Partner");
    expect(refused.status).toBe(409);
    const local = await admin(server, "PUT", "/admin/api/oauth/settings", { authorizationServer: "local" });
    expect(local.status).toBe(200);
    expect((await invokeWith(await token("invoke"), server)).status).toBe(401);
    const back = await admin(server, "PUT", "/admin/api/oauth/settings", { authorizationServer: "Partner" });
    expect(back.status).toBe(200);
    expect((await invokeWith(await token("invoke"), server)).status).toBe(200);
  });

  test("a stopped third party gives a fast 503 with Retry-After; its JWTs still verify locally", async () => {
    const value = await token("invoke");
    const jwt = await token("invoke", { resource: AUDIENCE });
    await partner.stop();
    // The JWKS is cached: a new JWT of the third party needs no call to it.
    expect((await invokeWith(jwt, server)).status).toBe(200);
    const started = Date.now();
    const answer = await invokeWith(value, server);
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(answer.body.error).toBe("unavailable");
    // Bounded by timeoutMs (1 s) whatever happens; not a speed assertion, a no-hang one.
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test("no token ever reaches the log", async () => {
    const text = await logText(server);
    for (const value of issued) expect(text).not.toContain(value);
    expect(text).not.toContain(RESOURCE.clientSecret);
  });
});
