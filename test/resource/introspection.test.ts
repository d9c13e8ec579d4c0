import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ManualClock } from "../../src/kernel/clock.js";
import { startServer, type TestServer } from "../support/server.js";
import {
  admin,
  createUser,
  invokeWith,
  logRecords,
  logText,
  memoryScopes,
  selectDirectly,
} from "./support/conduit.js";
import { startFakeIntrospection, type FakeIntrospection } from "./support/fake-introspection.js";

/**
 * The bearer check against an RFC 7662 endpoint that we control, to cover every way it can answer or fail.
 * The scope catalog here is in memory; test/resource/third-party.test.ts runs the whole article through
 * the admin API against node-oidc-provider.
 */
describe("introspection against an external authorization server", () => {
  let server: TestServer;
  let fake: FakeIntrospection;
  const clock = new ManualClock(Date.now());
  const tokens: string[] = [];
  const newToken = () => {
    const token = randomBytes(24).toString("base64url");
    tokens.push(token);
    return token;
  };
  const exp = () => Math.floor(Date.now() / 1000) + 3600;
  const active = (extra: Record<string, unknown> = {}) => ({
    active: true,
    scope: "invoke",
    client_id: "partner-app",
    exp: exp(),
    ...extra,
  });

  beforeAll(async () => {
    server = await startServer({ clock });
    fake = await startFakeIntrospection();
    await createUser(server, "partner");
    const created = await admin(server, "POST", "/admin/api/oauth/external-servers", {
      name: "Okta",
      introspectionEndpoint: fake.url,
      clientId: "conduit rs",
      clientSecret: "s3cret value:&=",
      user: "partner",
      cacheTtlSeconds: 60,
      timeoutMs: 300,
    });
    expect(created.status).toBe(201);
    await selectDirectly(server, "Okta");
    memoryScopes(server, {
      invoke: ["pub.math", "pub.flow:getTransportInfo"],
      reports: ["pub.string:concat"],
    });
  });

  afterAll(async () => {
    await server?.close();
    await fake?.stop();
  });

  test("RFC 7662 §2.1: POSTs token and token_type_hint with HTTP Basic, form-encoded credentials", async () => {
    fake.behave({ kind: "answer", body: active() });
    const token = newToken();
    const answer = await invokeWith(token, server);
    expect(answer.status).toBe(200);
    expect(typeof answer.body.number).toBe("number");
    const request = fake.requests.at(-1)!;
    expect(request.form.get("token")).toBe(token);
    expect(request.form.get("token_type_hint")).toBe("access_token");
    // RFC 6749 §2.3.1: id and secret are application/x-www-form-urlencoded before Basic.
    const decoded = Buffer.from(request.authorization!.replace(/^Basic /, ""), "base64").toString();
    expect(decoded).toBe("conduit+rs:s3cret+value%3A%26%3D");
  });

  test("an answer is cached: the second call with the same token makes no upstream call", async () => {
    fake.behave({ kind: "answer", body: active() });
    const token = newToken();
    const before = fake.calls;
    expect((await invokeWith(token, server)).status).toBe(200);
    expect((await invokeWith(token, server)).status).toBe(200);
    expect(fake.calls).toBe(before + 1);
  });

  test("active:false is 401 invalid_token, and is cached only briefly", async () => {
    fake.behave({ kind: "answer", body: { active: false } });
    const token = newToken();
    const before = fake.calls;
    const answer = await invokeWith(token, server);
    expect(answer.status).toBe(401);
    expect(answer.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
    expect((await invokeWith(token, server)).status).toBe(401);
    expect(fake.calls).toBe(before + 1);
    fake.behave({ kind: "answer", body: active() });
    clock.advance(6_000); // past the inactive TTL (5 s)
    expect((await invokeWith(token, server)).status).toBe(200);
    expect(fake.calls).toBe(before + 2);
  });

  test("an active answer without exp, or with a past exp, is refused", async () => {
    fake.behave({ kind: "answer", body: { active: true, scope: "invoke" } });
    expect((await invokeWith(newToken(), server)).status).toBe(401);
    fake.behave({ kind: "answer", body: active({ exp: Math.floor(Date.now() / 1000) - 10 }) });
    expect((await invokeWith(newToken(), server)).status).toBe(401);
    fake.behave({ kind: "answer", body: active({ nbf: Math.floor(clock.now() / 1000) + 60 }) });
    expect((await invokeWith(newToken(), server)).status).toBe(401);
  });

  test("refresh tokens, sender-constrained tokens and tokens for another audience are refused", async () => {
    fake.behave({ kind: "answer", body: active({ token_type: "refresh_token" }) });
    expect((await invokeWith(newToken(), server)).status).toBe(401);
    fake.behave({
      kind: "answer",
      body: active({ cnf: { jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" } }),
    });
    expect((await invokeWith(newToken(), server)).status).toBe(401);
    await admin(server, "PUT", "/admin/api/oauth/external-servers/Okta", { audience: "api://conduit" });
    fake.behave({ kind: "answer", body: active({ aud: ["api://other"] }) });
    expect((await invokeWith(newToken(), server)).status).toBe(401);
    fake.behave({ kind: "answer", body: active({ aud: ["api://other", "api://conduit"] }) });
    expect((await invokeWith(newToken(), server)).status).toBe(200);
    fake.behave({ kind: "answer", body: active({ token_type: "Bearer" }) }); // no aud: accepted
    expect((await invokeWith(newToken(), server)).status).toBe(200);
    await admin(server, "PUT", "/admin/api/oauth/external-servers/Okta", { audience: null });
  });

  test("scopes come from `scope` or from an Okta-style `scp` array; others get 403 insufficient_scope", async () => {
    fake.behave({ kind: "answer", body: active({ scope: undefined, scp: ["reports", "invoke"] }) });
    expect((await invokeWith(newToken(), server)).status).toBe(200);
    fake.behave({ kind: "answer", body: active({ scope: "reports" }) });
    const refused = await invokeWith(newToken(), server);
    expect(refused.status).toBe(403);
    expect(refused.headers.get("www-authenticate")).toMatch(/error="insufficient_scope"/);
    expect(refused.headers.get("www-authenticate")).toMatch(/scope="invoke"/);
  });

  test("the cache lives no longer than exp, and exp is re-checked on every hit", async () => {
    fake.behave({ kind: "answer", body: active({ exp: Math.floor(clock.now() / 1000) + 2 }) });
    const token = newToken();
    const before = fake.calls;
    expect((await invokeWith(token, server)).status).toBe(200);
    clock.advance(3_000);
    fake.behave({ kind: "answer", body: { active: false } });
    expect((await invokeWith(token, server)).status).toBe(401);
    expect(fake.calls).toBe(before + 2);
  });

  const failures: [string, Parameters<FakeIntrospection["behave"]>[0]][] = [
    ["a slow endpoint (past timeoutMs)", { kind: "hang" }],
    ["HTTP 500", { kind: "answer", status: 500, body: { error: "server_error" } }],
    ["HTTP 502 with HTML", { kind: "raw", status: 502, text: "<html>bad gateway</html>" }],
    ["a body that is not JSON", { kind: "raw", text: "not json" }],
    ["JSON without a boolean active", { kind: "answer", body: { active: "true", exp: 1 } }],
    ["a JSON array", { kind: "raw", text: "[]" }],
    ["HTTP 400", { kind: "answer", status: 400, body: { error: "invalid_request" } }],
  ];
  test.each(failures)("%s gets 503 with Retry-After, never a 200 or a hang", async (_name, behaviour) => {
    fake.behave(behaviour);
    const answer = await invokeWith(newToken(), server);
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(answer.body.error).toBe("unavailable");
  });

  test("a server that keeps timing out trips a breaker: 503 at once, without calling it, for a while", async () => {
    fake.behave({ kind: "hang" });
    for (let i = 0; i < 3; i++) expect((await invokeWith(newToken(), server)).status).toBe(503);
    const calls = fake.calls;
    const open = await invokeWith(newToken(), server);
    expect(open.status).toBe(503);
    expect(open.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(fake.calls).toBe(calls);
    fake.behave({ kind: "answer", body: active() });
    expect((await invokeWith(newToken(), server)).status).toBe(503);
    expect(fake.calls).toBe(calls);
    clock.advance(6_000); // past the breaker's open time: one call goes through and closes it
    expect((await invokeWith(newToken(), server)).status).toBe(200);
    expect(fake.calls).toBe(calls + 1);
    const records = await logRecords(server);
    expect(records.some((r) => r.event === "external_server_circuit_open" && r.server === "Okta")).toBe(true);
  });

  test("a 401 from the endpoint (our credentials are wrong) is a 503 logged as a configuration error", async () => {
    fake.behave({ kind: "answer", status: 401, body: { error: "invalid_client" } });
    const answer = await invokeWith(newToken(), server);
    expect(answer.status).toBe(503);
    const records = await logRecords(server);
    expect(records.some((r) => r.event === "external_server_misconfigured" && r.server === "Okta")).toBe(
      true,
    );
  });

  test("stale-if-error (off by default) serves a still-unexpired cached answer during an outage", async () => {
    fake.behave({ kind: "answer", body: active() });
    const token = newToken();
    expect((await invokeWith(token, server)).status).toBe(200);
    clock.advance(61_000); // past cacheTtlSeconds
    fake.behave({ kind: "answer", status: 500, body: {} });
    expect((await invokeWith(token, server)).status).toBe(503);

    const updated = await admin(server, "PUT", "/admin/api/oauth/external-servers/Okta", {
      staleIfErrorSeconds: 300,
    });
    expect(updated.status).toBe(200);
    fake.behave({ kind: "answer", body: active() });
    const second = newToken();
    expect((await invokeWith(second, server)).status).toBe(200);
    clock.advance(61_000);
    fake.behave({ kind: "hang" });
    expect((await invokeWith(second, server)).status).toBe(200);
    clock.advance(300_000); // past the stale window too
    expect((await invokeWith(second, server)).status).toBe(503);
    await admin(server, "PUT", "/admin/api/oauth/external-servers/Okta", { staleIfErrorSeconds: 0 });
  });

  test("changing the external server drops its cached answers", async () => {
    fake.behave({ kind: "answer", body: active() });
    const token = newToken();
    const before = fake.calls;
    expect((await invokeWith(token, server)).status).toBe(200);
    expect((await invokeWith(token, server)).status).toBe(200);
    expect(fake.calls).toBe(before + 1);
    const updated = await admin(server, "PUT", "/admin/api/oauth/external-servers/Okta", {
      cacheTtlSeconds: 30,
    });
    expect(updated.status).toBe(200);
    fake.behave({ kind: "answer", body: { active: false } });
    expect((await invokeWith(token, server)).status).toBe(401);
    expect(fake.calls).toBe(before + 2);
  });

  test("a subject claim can name the Conduit user instead of the fixed one", async () => {
    await createUser(server, "alice");
    await admin(server, "PUT", "/admin/api/oauth/external-servers/Okta", { subjectClaim: "username" });
    fake.behave({ kind: "answer", body: active({ username: "alice" }) });
    const asAlice = await invokeWith(newToken(), server, "pub.flow/getTransportInfo");
    expect(asAlice.status).toBe(200);
    expect(asAlice.body.transport).toMatchObject({ user: "alice", authentication: "bearer" });
    fake.behave({ kind: "answer", body: active({ username: "nobody-here" }) });
    expect((await invokeWith(newToken(), server)).status).toBe(401);
    fake.behave({ kind: "answer", body: active() });
    expect((await invokeWith(newToken(), server)).status).toBe(401); // no username claim at all
    await admin(server, "PUT", "/admin/api/oauth/external-servers/Okta", { subjectClaim: null });
    const asPartner = await invokeWith(newToken(), server, "pub.flow/getTransportInfo");
    expect(asPartner.status).toBe(200);
    expect(asPartner.body.transport).toMatchObject({ user: "partner" });
  });

  test("a selected server that does not exist is a 503, not a 401", async () => {
    await selectDirectly(server, "Nowhere");
    const answer = await invokeWith(newToken(), server);
    expect(answer.status).toBe(503);
    await selectDirectly(server, "Okta");
  });

  test("/metrics counts introspections, cache hits and misses, failures, latency and requests by status", async () => {
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toMatch(/conduit_introspection_requests_total\{server="Okta",outcome="active"\} \d+/);
    expect(text).toMatch(/conduit_introspection_requests_total\{server="Okta",outcome="inactive"\} \d+/);
    expect(text).toMatch(/conduit_token_cache_hits_total\{server="Okta"\} [1-9]/);
    expect(text).toMatch(/conduit_token_cache_misses_total\{server="Okta"\} [1-9]/);
    expect(text).toMatch(/conduit_introspection_failures_total\{server="Okta",reason="timeout"\} [1-9]/);
    expect(text).toMatch(/conduit_introspection_failures_total\{server="Okta",reason="unauthorized"\} [1-9]/);
    expect(text).toMatch(/conduit_introspection_failures_total\{server="Okta",reason="circuit_open"\} [1-9]/);
    expect(text).toMatch(/conduit_introspection_duration_seconds_count\{server="Okta"\} [1-9]/);
    expect(text).toMatch(/conduit_http_requests_total\{status="200"\} [1-9]/);
    expect(text).toMatch(/conduit_http_requests_total\{status="503"\} [1-9]/);
    expect(text).toMatch(/conduit_http_requests_total\{status="401"\} [1-9]/);
  });

  test("every refusal is logged with its reason, and no token ever reaches the log", async () => {
    const records = await logRecords(server);
    const reasons = records
      .filter((r) => r.event === "bearer_refused" && r.server === "Okta")
      .map((r) => r.reason);
    expect(reasons).toContain("the introspection endpoint says the token is not active");
    expect(reasons).toContain("the token has no exp");
    expect(reasons).toContain("the token has expired");
    const text = await logText(server);
    for (const token of tokens) expect(text).not.toContain(token);
    expect(text).not.toContain("s3cret value");
  });
});
