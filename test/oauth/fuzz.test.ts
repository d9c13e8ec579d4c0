import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, startServer, type TestServer } from "../support/server.js";
import { REDIRECT, admin, createClient, seed, type Json, type TestClient } from "./support.js";

/**
 * Malformed and hostile input at every OAuth endpoint (duplicate parameters, wrong content types, huge
 * values, bad encodings, wrong methods, junk credentials): never a 500, never a hang; errors are 4xx JSON
 * with a string `error`. On SQLite and PostgreSQL, whose failure modes differ (NUL in text, for one).
 */
describe.each(DATABASES)("OAuth endpoints under hostile input (%s)", (database) => {
  let server: TestServer;
  let confidential: TestClient;
  let publicClient: TestClient;

  beforeAll(async () => {
    server = await startServer({ database });
    await seed(server);
    confidential = await createClient(server, {
      type: "confidential",
      redirectUris: [REDIRECT],
      grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
      scopes: ["math"],
      runAsUser: "alice",
    });
    publicClient = await createClient(server, { type: "public", redirectUris: [REDIRECT], scopes: ["math"] });
  });
  afterAll(async () => server?.close());

  const NAMES = [
    "grant_type",
    "client_id",
    "client_secret",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "token",
    "token_type_hint",
    "response_type",
    "state",
    "code_challenge",
    "code_challenge_method",
    "ticket",
    "csrf_token",
    "decision",
    "username",
    "password",
  ];

  const value = () =>
    fc.oneof(
      fc.string(),
      fc.string({ unit: "binary", maxLength: 64 }),
      fc.constantFrom(
        "client_credentials",
        "authorization_code",
        "refresh_token",
        "password",
        "implicit",
        "code",
        "token",
        "S256",
        "plain",
        "math",
        "math nope",
        "approve",
        "deny",
        REDIRECT,
        "https://evil.example.com/",
        "",
        "\u0000",
        "%",
        "x".repeat(5000),
        "y".repeat(200_000),
      ),
      fc.constant("CLIENT_ID"),
      fc.constant("CLIENT_SECRET"),
    );

  const pairs = fc.array(
    fc.tuple(fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 20 })), value()),
    {
      maxLength: 8,
    },
  );

  const resolve = (text: string, client: TestClient) =>
    text === "CLIENT_ID" ? client.clientId : text === "CLIENT_SECRET" ? (client.clientSecret ?? "") : text;

  const body = fc.oneof(
    pairs.map((p) => ({ kind: "form" as const, p })),
    pairs.map((p) => ({ kind: "json" as const, p })),
    fc.constantFrom(
      {
        kind: "raw" as const,
        type: "application/x-www-form-urlencoded",
        text: "a=%ZZ&b=%E0%A4%A&grant_type=%",
      },
      {
        kind: "raw" as const,
        type: "application/x-www-form-urlencoded",
        text: "grant_type=client_credentials&grant_type=client_credentials",
      },
      { kind: "raw" as const, type: "application/json", text: "{not json" },
      { kind: "raw" as const, type: "application/json", text: "[1,2,3]" },
      { kind: "raw" as const, type: "application/json", text: '"a string"' },
      { kind: "raw" as const, type: "application/json", text: '{"grant_type":{"nested":true}}' },
      { kind: "raw" as const, type: "text/plain", text: "grant_type=client_credentials" },
      { kind: "raw" as const, type: "multipart/form-data; boundary=x", text: "--x\r\n\r\n--x--" },
      { kind: "raw" as const, type: "application/xml", text: "<a/>" },
      { kind: "raw" as const, type: "", text: "" },
    ),
  );

  const authorization = fc.oneof(
    fc.constant(undefined),
    fc.constant("BASIC_GOOD"),
    fc.constant("BASIC_GOOD"),
    fc.constant("BASIC_WRONG"),
    fc.string().map((s) => `Basic ${Buffer.from(s).toString("base64")}`),
    fc.string().map((s) => `Bearer ${s}`),
    // U+0000 in a Basic client id or secret (PostgreSQL cannot hold it in text).
    fc.constantFrom("a\u0000b:c", "CLIENT:\u0000").map((s) => `Basic ${Buffer.from(s).toString("base64")}`),
    fc.constantFrom("Basic", "Basic ===", "Bearer", "Negotiate abc", "Basic " + "A".repeat(10_000), "IAT"),
  );

  const method = fc.oneof(
    { weight: 8, arbitrary: fc.constant("POST") },
    { weight: 3, arbitrary: fc.constant("GET") },
    { weight: 1, arbitrary: fc.constantFrom("PUT", "DELETE", "PATCH", "OPTIONS") },
  );

  const request = fc.record({
    method,
    body,
    authorization,
    query: pairs,
    publicClient: fc.boolean(),
  });

  type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

  async function send(path: string, r: Req): Promise<Response> {
    const client = r.publicClient ? publicClient : confidential;
    const headers: Record<string, string> = {};
    if (r.authorization === "BASIC_GOOD")
      headers.authorization = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret ?? ""}`).toString("base64")}`;
    else if (r.authorization === "BASIC_WRONG")
      headers.authorization = `Basic ${Buffer.from(`${client.clientId}:wrong`).toString("base64")}`;
    else if (r.authorization === "IAT")
      headers.authorization = `Bearer ${(await admin(server, "POST", "/oauth/initial-access-tokens", {})).body.token}`;
    else if (r.authorization !== undefined) headers.authorization = r.authorization;
    const url = new URL(path, server.url);
    for (const [name, v] of r.query.slice(-3))
      if (v.length < 3000) url.searchParams.append(name, resolve(v, client));
    let payload: string | undefined;
    if (r.method !== "GET") {
      if (r.body.kind === "form") {
        headers["content-type"] = "application/x-www-form-urlencoded";
        payload = new URLSearchParams(
          r.body.p.map(([n, v]) => [n, resolve(v, client)] as [string, string]),
        ).toString();
      } else if (r.body.kind === "json") {
        headers["content-type"] = "application/json";
        payload = JSON.stringify(Object.fromEntries(r.body.p.map(([n, v]) => [n, resolve(v, client)])));
      } else {
        if (r.body.type) headers["content-type"] = r.body.type;
        payload = r.body.text;
      }
    }
    return fetch(url, {
      method: r.method,
      headers,
      redirect: "manual",
      ...(payload === undefined ? {} : { body: payload }),
    });
  }

  async function expectOAuthError(response: Response): Promise<void> {
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.headers.get("content-type")).toContain("application/json");
    const parsed = (await response.json()) as Json;
    expect(typeof parsed.error).toBe("string");
  }

  const POST_ENDPOINTS = [
    "/oauth2/token",
    "/oauth2/introspect",
    "/oauth2/revoke",
    "/invoke/pub.oauth/getToken",
    "/invoke/pub.oauth/introspectToken",
    "/invoke/pub.oauth/revokeToken",
  ];

  it.each(POST_ENDPOINTS)(
    "%s answers every malformed request with a 4xx OAuth error, or a success",
    async (path) => {
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const response = await send(path, r);
          expect(response.status).toBeLessThan(500);
          if (response.status >= 400) return expectOAuthError(response);
          // Success is possible (a valid client with a valid grant, an unknown token): then it is well-formed.
          expect(response.status).toBe(200);
          expect(response.headers.get("cache-control")).toBe("no-store");
          const text = await response.text();
          if (path.includes("revoke")) expect(text).toBe("");
          else expect(typeof JSON.parse(text)).toBe("object");
        }),
        { numRuns: 150 },
      );
    },
  );

  it.each(["/oauth2/authorize", "/invoke/pub.oauth/authorize"])(
    "%s never fails with 5xx and never redirects anywhere but the registered URI",
    async (path) => {
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const response = await send(path, r);
          expect(response.status).toBeLessThan(500);
          if (response.status >= 400) {
            if ((response.headers.get("content-type") ?? "").includes("text/html")) {
              expect(response.headers.get("x-frame-options")).toBe("DENY");
              return;
            }
            return expectOAuthError(response);
          }
          if (response.status === 302 || response.status === 303) {
            const location = response.headers.get("location")!;
            expect(location.startsWith(`${REDIRECT}?`)).toBe(true);
            expect(new URL(location).searchParams.get("error")).toBeTruthy();
            return;
          }
          expect(response.status).toBe(200);
          expect(response.headers.get("x-frame-options")).toBe("DENY");
        }),
        { numRuns: 120 },
      );
    },
  );

  it("/oauth2/register and RFC 7592 management answer malformed requests with 4xx OAuth errors", async () => {
    await fc.assert(
      fc.asyncProperty(
        request,
        fc.constantFrom("/oauth2/register", "/oauth2/register/abc", "/oauth2/register/%ZZ"),
        async (r, path) => {
          const response = await send(path, r);
          expect(response.status).toBeLessThan(500);
          if (response.status >= 400) return expectOAuthError(response);
          // A valid initial access token with acceptable metadata registers a client.
          expect(response.status).toBe(201);
        },
      ),
      { numRuns: 120 },
    );
  });

  it("refuses bodies over the size limit with 413 and an OAuth error", async () => {
    const response = await fetch(`${server.url}/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `grant_type=client_credentials&pad=${"x".repeat(2 * 1024 * 1024)}`,
    });
    expect(response.status).toBe(413);
    await expectOAuthError(response);
  });

  it("answers wrong methods with 405, an Allow header and an OAuth error", async () => {
    for (const [path, verb] of [
      ["/oauth2/token", "GET"],
      ["/oauth2/introspect", "PUT"],
      ["/oauth2/revoke", "DELETE"],
      ["/oauth2/authorize", "PATCH"],
      ["/invoke/pub.oauth/getToken", "GET"],
    ] as const) {
      const response = await fetch(`${server.url}${path}`, { method: verb });
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBeTruthy();
      await expectOAuthError(response);
    }
  });
});
