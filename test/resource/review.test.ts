import { randomBytes } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWTHeaderParameters } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { ManualClock } from "../../src/kernel/clock.js";
import { DATABASES, startServer, type TestServer } from "../support/server.js";
import {
  admin,
  createUser,
  invokeWith,
  logRecords,
  memoryScopes,
  selectDirectly,
} from "./support/conduit.js";
import { startDocumentServer, type DocumentServer } from "./support/documents.js";
import { startFakeIntrospection, type FakeIntrospection } from "./support/fake-introspection.js";

const BASE = "/admin/api/oauth/external-servers";
const newToken = () => randomBytes(24).toString("base64url");

/** Review of issue 4: each test here failed before its fix. */
describe("review: the circuit breaker lets exactly one probe through when it half-opens", () => {
  let server: TestServer;
  let fake: FakeIntrospection;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    server = await startServer({ clock });
    fake = await startFakeIntrospection();
    await createUser(server, "partner");
    const created = await admin(server, "POST", BASE, {
      name: "Okta",
      introspectionEndpoint: fake.url,
      clientId: "rs",
      clientSecret: "rs-secret",
      user: "partner",
      timeoutMs: 200,
    });
    expect(created.status).toBe(201);
    await selectDirectly(server, "Okta");
    memoryScopes(server, { invoke: ["pub.math"] });
  });
  afterAll(async () => {
    await server?.close();
    await fake?.stop();
  });

  test("half-open: one call probes the server, the others answer 503 at once; a failed probe reopens", async () => {
    fake.behave({ kind: "hang" });
    for (let i = 0; i < 3; i++) expect((await invokeWith(newToken(), server)).status).toBe(503);
    const calls = fake.calls;
    clock.advance(6_000); // past the open time: half-open
    const answers = await Promise.all([1, 2, 3, 4].map(() => invokeWith(newToken(), server)));
    expect(answers.map((a) => a.status)).toEqual([503, 503, 503, 503]);
    expect(fake.calls).toBe(calls + 1); // the probe only
    // The probe timed out: open again, no call.
    expect((await invokeWith(newToken(), server)).status).toBe(503);
    expect(fake.calls).toBe(calls + 1);
    clock.advance(6_000);
    fake.behave({
      kind: "answer",
      body: { active: true, scope: "invoke", exp: Math.floor(Date.now() / 1000) + 600 },
    });
    expect((await invokeWith(newToken(), server)).status).toBe(200);
    expect((await invokeWith(newToken(), server)).status).toBe(200);
    expect(fake.calls).toBe(calls + 3); // closed again
  });
});

describe("review: JWT access tokens", () => {
  const ISSUER = "https://issuer.example/oauth2/default";
  const AUDIENCE = "api://conduit";
  let server: TestServer;
  let documents: DocumentServer;
  let key: CryptoKey;
  let jwks: { keys: Record<string, unknown>[] };
  const clock = new ManualClock(Date.now());

  const jwt = async (
    header: Partial<JWTHeaderParameters> = {},
    claims: Record<string, unknown> = {},
    signWith: CryptoKey = key,
  ) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ scp: ["invoke"], cid: "partner-app", ...claims })
      .setProtectedHeader({ alg: "RS256", kid: "k1", ...header })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(signWith);
  };

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256", { extractable: true });
    key = pair.privateKey;
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" }] };
    documents = await startDocumentServer();
    documents.serve("/jwks", { kind: "json", body: jwks });
    server = await startServer({ clock });
    await createUser(server, "partner");
    const created = await admin(server, "POST", BASE, {
      name: "Okta",
      introspectionEndpoint: "http://127.0.0.1:1/introspect",
      clientId: "rs",
      clientSecret: "rs-secret",
      user: "partner",
      issuer: ISSUER,
      jwksUri: `${documents.url}/jwks`,
      audience: AUDIENCE,
      timeoutMs: 200,
    });
    expect(created.status).toBe(201);
    memoryScopes(server, { invoke: ["pub.math"] });
  });
  afterAll(async () => {
    await server?.close();
    await documents?.stop();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test("RFC 9068 §4: typ at+jwt is accepted, and a JWT without typ or with typ JWT (Okta, Keycloak)", async () => {
    for (const typ of ["at+jwt", "application/at+jwt", "AT+JWT", "JWT", undefined])
      expect((await invokeWith(await jwt(typ ? { typ } : {}), server)).status, String(typ)).toBe(200);
  });

  test("RFC 9068 §4: any other typ, and an ID token presented as an access token, are refused", async () => {
    for (const typ of ["dpop+jwt", "logout+jwt", "secevent+jwt"]) {
      const answer = await invokeWith(await jwt({ typ }), server);
      expect(answer.status, typ).toBe(401);
      expect(answer.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
    }
    // OpenID Connect Core §2: nonce and at_hash are ID token claims.
    expect((await invokeWith(await jwt({}, { nonce: "n-0S6_WzA2Mj" }), server)).status).toBe(401);
    expect(
      (await invokeWith(await jwt({ typ: "JWT" }, { at_hash: "77QmUPtjPfzWtF2AnpK9RQ" }), server)).status,
    ).toBe(401);
    const reasons = (await logRecords(server))
      .filter((r) => r.event === "bearer_refused" && r.server === "Okta")
      .map((r) => String(r.reason));
    expect(reasons.some((r) => r.includes("typ"))).toBe(true);
    expect(reasons.some((r) => r.includes("ID token"))).toBe(true);
  });

  test("alg none and HS256 (the public key as an HMAC secret) are refused", async () => {
    const header = (alg: string) => Buffer.from(JSON.stringify({ alg, kid: "k1" })).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const payload = Buffer.from(
      JSON.stringify({ iss: ISSUER, aud: AUDIENCE, exp: now + 600, scp: ["invoke"] }),
    ).toString("base64url");
    expect((await invokeWith(`${header("none")}.${payload}.`, server)).status).not.toBe(200);
    const hs = await new SignJWT({ scp: ["invoke"] })
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
    expect((await invokeWith(hs, server)).status).toBe(401);
  });

  test("the breaker guards JWKS fetches only: keys already cached keep verifying while the JWKS hangs", async () => {
    expect((await invokeWith(await jwt(), server)).status).toBe(200); // keys cached
    documents.serve("/jwks", { kind: "hang" });
    // Past jose's refetch floor (30 s, on Date): an unknown kid refetches the JWKS, which hangs.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 31_000);
    const { privateKey: stranger } = await generateKeyPair("RS256");
    for (const kid of ["x1", "x2", "x3", "x4"])
      expect((await invokeWith(await jwt({ kid }, {}, stranger), server)).status).toBe(503);
    expect((await logRecords(server)).some((r) => r.event === "external_server_circuit_open")).toBe(true);
    // The breaker is open for the JWKS, but this token's key is cached: nothing to fetch.
    expect((await invokeWith(await jwt(), server)).status).toBe(200);
    documents.serve("/jwks", { kind: "json", body: jwks });
  });

  test("a JWKS over the size limit is not read: 503", async () => {
    documents.serve("/big-jwks", {
      kind: "json",
      body: { keys: jwks.keys, padding: "x".repeat(600 * 1024) },
    });
    const updated = await admin(server, "PUT", `${BASE}/Okta`, { jwksUri: `${documents.url}/big-jwks` });
    expect(updated.status).toBe(200);
    const answer = await invokeWith(await jwt(), server);
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toMatch(/^\d+$/);
    await admin(server, "PUT", `${BASE}/Okta`, { jwksUri: `${documents.url}/jwks` });
    expect((await invokeWith(await jwt(), server)).status).toBe(200);
  });
});

describe.each(DATABASES)("review: the external-server admin API (%s)", (database) => {
  let server: TestServer;
  let documents: DocumentServer;

  beforeAll(async () => {
    server = await startServer({ database });
    documents = await startDocumentServer();
    await createUser(server, "partner");
  });
  afterAll(async () => {
    await server?.close();
    await documents?.stop();
  });

  const body = (extra: Record<string, unknown> = {}) => ({
    name: "Okta",
    introspectionEndpoint: "https://example.okta.com/oauth2/default/v1/introspect",
    clientId: "0oa1",
    clientSecret: "secret-value",
    user: "partner",
    ...extra,
  });

  test("NUL characters in a name or a field are a 400, never a database error", async () => {
    expect((await admin(server, "GET", `${BASE}/a%00b`)).status).toBe(400);
    expect((await admin(server, "DELETE", `${BASE}/a%00b`)).status).toBe(400);
    for (const field of ["clientId", "clientSecret", "issuer", "audience", "subjectClaim"]) {
      const answer = await admin(server, "POST", BASE, body({ name: `Nul-${field}`, [field]: "a\u0000b" }));
      expect(answer.status, field).toBe(400);
      expect(answer.body.error).toBe("invalid_field");
    }
  });

  test("RFC 8414 §3.3: a discovery document whose issuer is not the one its URL names is refused", async () => {
    const issuer = `${documents.url}/oauth2/default`;
    const metadata = (iss: string) => ({
      kind: "json" as const,
      body: {
        issuer: iss,
        jwks_uri: `${issuer}/v1/keys`,
        introspection_endpoint: `${issuer}/v1/introspect`,
      },
    });
    documents.serve("/oauth2/default/.well-known/openid-configuration", metadata("https://attacker.example"));
    const refused = await admin(server, "POST", BASE, {
      ...body({ name: "Mixup" }),
      introspectionEndpoint: undefined,
      discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe("discovery_failed");

    // RFC 8414 §3.1 inserts the well-known segment between the host and the issuer's path.
    documents.serve("/.well-known/oauth-authorization-server/oauth2/default", metadata(issuer));
    const accepted = await admin(server, "POST", BASE, {
      ...body({ name: "Rfc8414" }),
      introspectionEndpoint: undefined,
      discoveryUrl: `${documents.url}/.well-known/oauth-authorization-server/oauth2/default`,
    });
    expect(accepted.status).toBe(201);
    expect(accepted.body.issuer).toBe(issuer);
    expect((await admin(server, "DELETE", `${BASE}/Rfc8414`)).status).toBe(204);
  });

  test("a discovery document that never ends is cut at the size limit, not read for ever", async () => {
    documents.serve("/.well-known/openid-configuration", { kind: "endless", chunk: "x".repeat(16 * 1024) });
    const answer = await admin(server, "POST", BASE, {
      ...body({ name: "Endless" }),
      timeoutMs: 60_000,
      discoveryUrl: `${documents.url}/.well-known/openid-configuration`,
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe("discovery_failed");
    expect(String(answer.body.message ?? answer.body.error_description)).toMatch(/too large/);
  });

  test("audit entries say who changed what, and when the client secret was set, never its value", async () => {
    const created = await admin(
      server,
      "POST",
      BASE,
      body({ name: "Audited", clientSecret: "first-secret-1" }),
    );
    expect(created.status).toBe(201);
    expect((await admin(server, "PUT", `${BASE}/Audited`, { timeoutMs: 1500 })).status).toBe(200);
    expect((await admin(server, "PUT", `${BASE}/Audited`, { clientSecret: "second-secret-2" })).status).toBe(
      200,
    );
    expect((await admin(server, "DELETE", `${BASE}/Audited`)).status).toBe(204);
    const entries = (await logRecords(server)).filter((r) => r.event === "audit" && r.target === "Audited");
    expect(entries.map((r) => [r.action, r.clientSecretChanged, r.actor])).toEqual([
      ["external-server.create", true, "Administrator"],
      ["external-server.update", false, "Administrator"],
      ["external-server.update", true, "Administrator"],
      ["external-server.delete", undefined, "Administrator"],
    ]);
    const text = JSON.stringify(entries);
    expect(text).not.toContain("first-secret-1");
    expect(text).not.toContain("second-secret-2");
  });

  test("deleting the selected server is refused even when this node's cached setting is stale", async () => {
    expect((await admin(server, "POST", BASE, body({ name: "Selected" }))).status).toBe(201);
    expect((await admin(server, "GET", "/admin/api/oauth/settings")).status).toBe(200);
    // Another node selects it and its notification is lost: only the database knows.
    await invokeWith(newToken(), server); // the setting is now cached on this node (local)
    const { conduit } = server;
    const current = (await conduit.repos.settings.get<Record<string, unknown>>("oauth")) ?? {};
    await conduit.repos.settings.put("oauth", { ...current, authorizationServer: "Selected" }, Date.now());
    const answer = await admin(server, "DELETE", `${BASE}/Selected`);
    expect(answer.status).toBe(409);
    await conduit.repos.settings.put("oauth", { ...current, authorizationServer: "local" }, Date.now());
    conduit.changes.publish({ kind: "settings", key: "oauth" });
  });
});
