import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import Fastify from "fastify";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { consoleRoutes, CONSOLE_ROOT } from "../../src/http/console.js";
import { statisticsOf } from "../../src/http/statistics.js";
import { ManualClock } from "../../src/kernel/clock.js";
import { logFile } from "../../src/kernel/logger.js";
import { freshPostgresDatabase } from "../support/postgres.js";
import { ADMIN_PASSWORD, basic, DATABASES, startServer, type TestServer } from "../support/server.js";

interface Session {
  cookie: string;
  csrfToken: string;
  body: {
    username: string;
    groups: string[];
    csrfToken: string;
    idleTimeoutSeconds: number;
    expiresAt: string;
  };
}

const MINUTE = 60_000;

async function signInResponse(
  server: TestServer,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${server.url}/admin/api/session`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function signIn(
  server: TestServer,
  username = "Administrator",
  password = ADMIN_PASSWORD,
  headers: Record<string, string> = {},
): Promise<Session> {
  const response = await signInResponse(server, { username, password }, headers);
  expect(response.status).toBe(200);
  const setCookie = response.headers.get("set-cookie") ?? "";
  const body = (await response.json()) as Session["body"];
  return { cookie: setCookie.split(";")[0]!, csrfToken: body.csrfToken, body };
}

const withSession = (session: Session, extra: Record<string, string> = {}) => ({
  cookie: session.cookie,
  "x-csrf-token": session.csrfToken,
  ...extra,
});

async function call(
  server: TestServer,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    redirect: "manual",
  });
}

async function createUser(server: TestServer, username: string, password: string, groups: string[]) {
  const created = await call(
    server,
    "POST",
    "/admin/api/users",
    { authorization: server.adminAuth },
    {
      username,
      password,
      groups,
    },
  );
  expect(created.status).toBe(201);
}

function auditRecords(server: TestServer): Record<string, unknown>[] {
  return readFileSync(logFile(server.dataDir), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => record.event === "audit");
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.each(DATABASES)("admin console session (%s)", (database) => {
  let server: TestServer;
  const clock = new ManualClock();

  beforeAll(async () => {
    server = await startServer({ database, clock });
  });
  afterAll(async () => server?.close());

  it("signs in with an HttpOnly, SameSite=Strict cookie for Path=/ (not Secure over plain HTTP)", async () => {
    const response = await signInResponse(server, { username: "Administrator", password: ADMIN_PASSWORD });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const setCookie = response.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/^conduit_session=[A-Za-z0-9_-]{43};/);
    const attributes = setCookie
      .split(";")
      .slice(1)
      .map((a) => a.trim());
    expect(attributes).toEqual(expect.arrayContaining(["HttpOnly", "SameSite=Strict", "Path=/"]));
    expect(attributes).not.toContain("Secure");
    const body = (await response.json()) as Session["body"];
    expect(Object.keys(body).sort()).toEqual([
      "csrfToken",
      "expiresAt",
      "groups",
      "idleTimeoutSeconds",
      "username",
    ]);
    expect(body.username).toBe("Administrator");
    expect(body.groups).toEqual(["Administrators", "Everybody"]);
    expect(body.idleTimeoutSeconds).toBe(30 * 60);
    expect(Date.parse(body.expiresAt)).toBe(clock.now() + 8 * 60 * MINUTE);
    expect(body.csrfToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);

    const current = await call(server, "GET", "/admin/api/session", { cookie: setCookie.split(";")[0]! });
    expect(current.status).toBe(200);
    expect(await current.json()).toEqual(body);
  });

  it("refuses a wrong password or an unknown user with 401 invalid_credentials and no Basic challenge", async () => {
    for (const [username, password] of [
      ["Administrator", "wrong-password"],
      ["nobody-at-all", "whatever-password"],
    ]) {
      const response = await signInResponse(server, { username, password });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: "invalid_credentials" });
      const challenge = response.headers.get("www-authenticate") ?? "";
      expect(challenge).toBe('Session realm="Conduit"');
      expect(response.headers.get("set-cookie")).toBeNull();
    }
    // No session, on the session endpoints either: never a Basic challenge.
    for (const method of ["GET", "DELETE"]) {
      const none = await call(server, method, "/admin/api/session", {});
      expect(none.status).toBe(401);
      expect(await none.json()).toMatchObject({ error: "no_session" });
      expect(none.headers.get("www-authenticate")).toBe('Session realm="Conduit"');
    }
    // A console request (it sends X-CSRF-Token) whose cookie is gone gets the Session challenge too.
    for (const path of ["/admin/api/users", "/invoke/pub.math/randomDouble", "/admin/api/statistics"]) {
      const gone = await call(server, "GET", path, { "x-csrf-token": "stale" });
      expect(gone.status).toBe(401);
      expect(gone.headers.get("www-authenticate")).not.toMatch(/basic/i);
    }
    // Scripts without credentials still get Basic and Bearer.
    const script = await call(server, "GET", "/admin/api/users", {});
    expect(script.status).toBe(401);
    expect(script.headers.get("www-authenticate")).toContain("Basic");
    expect(script.headers.get("www-authenticate")).not.toContain("Session");
  });

  it("refuses users outside Administrators (403) and bad bodies (400 naming the field)", async () => {
    await createUser(server, "operator", "operator-password", []);
    const response = await signInResponse(server, { username: "operator", password: "operator-password" });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: "admin_required" });
    expect(response.headers.get("set-cookie")).toBeNull();

    const cases: [unknown, string][] = [
      [{ password: ADMIN_PASSWORD }, "username"],
      [{ username: "Administrator" }, "password"],
      [{ username: 42, password: ADMIN_PASSWORD }, "username"],
      [{ username: "Administrator", password: ["x"] }, "password"],
      [{ username: "", password: ADMIN_PASSWORD }, "username"],
      [{ username: "Administrator", password: "x".repeat(5000) }, "password"],
    ];
    for (const [body, field] of cases) {
      const bad = await signInResponse(server, body);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: "invalid_field", field });
    }
    const notObject = await signInResponse(server, "[1,2]");
    expect(notObject.status).toBe(400);
    const noBody = await fetch(`${server.url}/admin/api/session`, { method: "POST" });
    expect(noBody.status).toBe(400);
    expect(await noBody.json()).toMatchObject({ field: "username" });
  });

  it("refuses a cross-site sign-in (Sec-Fetch-Site, foreign Origin) and accepts its own origin", async () => {
    const body = { username: "Administrator", password: ADMIN_PASSWORD };
    for (const headers of <Record<string, string>[]>[
      { "sec-fetch-site": "cross-site" },
      { origin: "https://evil.example" },
      { origin: "null" },
    ]) {
      const response = await signInResponse(server, body, headers);
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ error: "csrf_failed" });
      expect(response.headers.get("set-cookie")).toBeNull();
    }
    await signIn(server, "Administrator", ADMIN_PASSWORD, {
      origin: server.url,
      "sec-fetch-site": "same-origin",
    });
  });

  it("opens the admin API and /invoke only with the session's X-CSRF-Token, from this site", async () => {
    const session = await signIn(server);
    const paths = ["/admin/api/users", "/invoke/pub.math/randomDouble", "/admin/api/statistics"];
    for (const path of paths) {
      expect((await call(server, "GET", path, withSession(session))).status).toBe(200);
      expect((await call(server, "GET", path, withSession(session, { origin: server.url }))).status).toBe(
        200,
      );
      const refusals = [
        { cookie: session.cookie },
        { cookie: session.cookie, "x-csrf-token": "wrong" },
        // One character off (never the token itself: its last character may already be "A").
        {
          cookie: session.cookie,
          "x-csrf-token": session.csrfToken.slice(0, -1) + (session.csrfToken.endsWith("A") ? "E" : "A"),
        },
        withSession(session, { origin: "https://evil.example" }),
        withSession(session, { "sec-fetch-site": "cross-site" }),
      ];
      for (const headers of refusals) {
        const refused = await call(server, "GET", path, headers);
        expect(refused.status).toBe(403);
        expect(await refused.json()).toMatchObject({ error: "csrf_failed" });
      }
    }
    // POST too (a form cannot send the header), and a JSON POST on /invoke.
    const posted = await call(server, "POST", "/invoke/pub.math/addInts", withSession(session), {
      num1: "40",
      num2: "2",
    });
    expect(posted.status).toBe(200);
    expect(await posted.json()).toEqual({ value: 42 });
    const forged = await call(
      server,
      "POST",
      "/invoke/pub.math/addInts",
      { cookie: session.cookie },
      {
        num1: "1",
        num2: "2",
      },
    );
    expect(forged.status).toBe(403);
    // A token of another session does not fit this cookie.
    const other = await signIn(server);
    const mixed = await call(server, "GET", "/admin/api/users", {
      cookie: session.cookie,
      "x-csrf-token": other.csrfToken,
    });
    expect(mixed.status).toBe(403);
    // Basic still works for scripts, with or without a stray cookie; bearer-less, cookie-less anonymous
    // calls are unchanged.
    expect((await call(server, "GET", "/admin/api/users", { authorization: server.adminAuth })).status).toBe(
      200,
    );
    expect((await call(server, "GET", "/invoke/pub.math/randomDouble", {})).status).toBe(401);
  });

  it("audits sign-in, writes through the session (via console), sign-out and failures, never a password", async () => {
    const failedPassword = `wrong-${randomBytes(6).toString("hex")}`;
    expect(
      (await signInResponse(server, { username: "Administrator", password: failedPassword })).status,
    ).toBe(401);
    const session = await signIn(server);
    const created = await call(server, "POST", "/admin/api/users", withSession(session), {
      username: "made-in-console",
      password: "console-made-password",
      groups: [],
    });
    expect(created.status).toBe(201);
    expect((await call(server, "DELETE", "/admin/api/session", withSession(session))).status).toBe(204);

    const records = auditRecords(server);
    const write = records.find((r) => r.action === "user.create" && r.target === "made-in-console");
    expect(write).toMatchObject({ actor: "Administrator", via: "console" });
    const basicWrite = records.find((r) => r.action === "user.create" && r.target === "operator");
    expect(basicWrite).toMatchObject({ actor: "Administrator", via: "api" });
    expect(records).toContainEqual(
      expect.objectContaining({ action: "console.sign-in", target: "Administrator", via: "console" }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({ action: "console.sign-out", target: "Administrator", via: "console" }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({
        action: "console.sign-in-failed",
        target: "Administrator",
        reason: "invalid_credentials",
      }),
    );
    const log = readFileSync(logFile(server.dataDir), "utf8");
    for (const secret of [failedPassword, ADMIN_PASSWORD, "console-made-password", session.csrfToken])
      expect(log).not.toContain(secret);
    expect(log).not.toContain(session.cookie.split("=")[1]!);
  });

  it("signs out: 204, the cookie cleared, the session refused everywhere afterwards", async () => {
    const session = await signIn(server);
    const noToken = await call(server, "DELETE", "/admin/api/session", { cookie: session.cookie });
    expect(noToken.status).toBe(403);
    expect(await noToken.json()).toMatchObject({ error: "csrf_failed" });
    expect((await call(server, "GET", "/admin/api/users", withSession(session))).status).toBe(200);

    const out = await call(server, "DELETE", "/admin/api/session", withSession(session));
    expect(out.status).toBe(204);
    const cleared = out.headers.get("set-cookie")!;
    expect(cleared).toMatch(/^conduit_session=;/);
    expect(cleared).toContain("Max-Age=0");
    for (const path of ["/admin/api/users", "/invoke/pub.math/randomDouble", "/admin/api/session"]) {
      const replayed = await call(server, "GET", path, withSession(session));
      expect(replayed.status).toBe(401);
      expect(await replayed.json()).toMatchObject({ error: "no_session" });
      expect(replayed.headers.get("www-authenticate")).toBe('Session realm="Conduit"');
    }
  });

  it("renews the session id at sign-in: the browser's previous session ends", async () => {
    const first = await signIn(server);
    const second = await signIn(server, "Administrator", ADMIN_PASSWORD, { cookie: first.cookie });
    expect(second.cookie).not.toBe(first.cookie);
    expect((await call(server, "GET", "/admin/api/users", withSession(first))).status).toBe(401);
    expect((await call(server, "GET", "/admin/api/users", withSession(second))).status).toBe(200);
  });

  it("ends a session after the idle timeout; activity keeps it alive", async () => {
    const session = await signIn(server);
    for (let i = 0; i < 4; i++) {
      clock.advance(20 * MINUTE); // 80 minutes in all, never 30 without a request
      expect((await call(server, "GET", "/admin/api/users", withSession(session))).status).toBe(200);
    }
    clock.advance(29 * MINUTE);
    expect((await call(server, "GET", "/admin/api/session", { cookie: session.cookie })).status).toBe(200);
    clock.advance(30 * MINUTE + 1);
    const idle = await call(server, "GET", "/admin/api/users", withSession(session));
    expect(idle.status).toBe(401);
    expect(await idle.json()).toMatchObject({ error: "no_session" });
  });

  it("ends a session at its absolute lifetime, however active", async () => {
    const session = await signIn(server);
    const expiresAt = Date.parse(session.body.expiresAt);
    while (clock.now() + 25 * MINUTE < expiresAt) {
      clock.advance(25 * MINUTE);
      expect((await call(server, "GET", "/invoke/pub.math/randomDouble", withSession(session))).status).toBe(
        200,
      );
    }
    clock.advance(expiresAt - clock.now());
    expect((await call(server, "GET", "/invoke/pub.math/randomDouble", withSession(session))).status).toBe(
      401,
    );
    expect((await call(server, "GET", "/admin/api/session", { cookie: session.cookie })).status).toBe(401);
  });

  it("refuses the session of a user who was deleted, left Administrators or changed password", async () => {
    const admin = { authorization: server.adminAuth };
    await createUser(server, "ops-deleted", "ops-password-1", ["Administrators"]);
    await createUser(server, "ops-demoted", "ops-password-2", ["Administrators"]);
    await createUser(server, "ops-rekeyed", "ops-password-3", ["Administrators"]);
    const deleted = await signIn(server, "ops-deleted", "ops-password-1");
    const demoted = await signIn(server, "ops-demoted", "ops-password-2");
    const rekeyed = await signIn(server, "ops-rekeyed", "ops-password-3");
    for (const session of [deleted, demoted, rekeyed])
      expect((await call(server, "GET", "/admin/api/users", withSession(session))).status).toBe(200);

    expect((await call(server, "DELETE", "/admin/api/users/ops-deleted", admin)).status).toBe(204);
    expect((await call(server, "PUT", "/admin/api/users/ops-demoted", admin, { groups: [] })).status).toBe(
      200,
    );
    expect(
      (await call(server, "PUT", "/admin/api/users/ops-rekeyed", admin, { password: "a-new-password" }))
        .status,
    ).toBe(200);
    for (const session of [deleted, demoted, rekeyed]) {
      const refused = await call(server, "GET", "/invoke/pub.math/randomDouble", withSession(session));
      expect(refused.status).toBe(401);
      expect((await call(server, "GET", "/admin/api/session", { cookie: session.cookie })).status).toBe(401);
    }
    // The new password opens a new session.
    const again = await signIn(server, "ops-rekeyed", "a-new-password");
    expect((await call(server, "GET", "/admin/api/users", withSession(again))).status).toBe(200);
    // A group change that keeps the user in Administrators keeps the session.
    const groups = await call(server, "POST", "/admin/api/groups", admin, { name: "Operators" });
    expect(groups.status).toBe(201);
    expect(
      (
        await call(server, "PUT", "/admin/api/users/ops-rekeyed", admin, {
          groups: ["Administrators", "Operators"],
        })
      ).status,
    ).toBe(200);
    const kept = await call(server, "GET", "/admin/api/session", { cookie: again.cookie });
    expect(((await kept.json()) as Session["body"]).groups).toEqual([
      "Administrators",
      "Everybody",
      "Operators",
    ]);
  });

  it("stores only keyed digests of session ids", async () => {
    clock.advance(1); // a lifetime end of its own, to find the row
    const session = await signIn(server);
    const id = session.cookie.split("=")[1]!;
    const rows = await server.conduit.storage.db.selectFrom("console_sessions").selectAll().execute();
    expect(rows.length).toBeGreaterThan(0);
    const text = JSON.stringify(rows);
    expect(text).not.toContain(id);
    expect(text).not.toContain(session.csrfToken);
    for (const row of rows) {
      expect(row.digest).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(row.credential).not.toContain("scrypt");
    }
    expect(rows.filter((r) => r.expires_at === Date.parse(session.body.expiresAt)).length).toBe(1);
  });

  it("writes last-seen at most once a minute per session", async () => {
    clock.advance(2); // a lifetime end of its own, to find the row
    const session = await signIn(server);
    const expires = Date.parse(session.body.expiresAt);
    const lastSeen = async () =>
      (
        await server.conduit.storage.db
          .selectFrom("console_sessions")
          .select("last_seen_at")
          .where("expires_at", "=", expires)
          .executeTakeFirstOrThrow()
      ).last_seen_at;
    const signedInAt = await lastSeen();
    for (let i = 0; i < 5; i++) {
      clock.advance(10_000);
      expect((await call(server, "GET", "/admin/api/users", withSession(session))).status).toBe(200);
    }
    expect(await lastSeen()).toBe(signedInAt);
    clock.advance(11_000);
    expect((await call(server, "GET", "/admin/api/users", withSession(session))).status).toBe(200);
    expect(await lastSeen()).toBe(clock.now());
  });

  it("sweeps expired sessions out of the database", async () => {
    const session = await signIn(server);
    const count = async () =>
      (await server.conduit.storage.db.selectFrom("console_sessions").select("digest").execute()).length;
    expect(await count()).toBeGreaterThan(0);
    clock.advance(9 * 60 * MINUTE);
    expect(await server.conduit.sessions.sweep()).toBeGreaterThan(0);
    expect(await count()).toBe(0);
    expect((await call(server, "GET", "/admin/api/session", { cookie: session.cookie })).status).toBe(401);
  });

  it("requires HTTPS for sign-in from a non-loopback address while requireHttps is on", async () => {
    const payload = { username: "Administrator", password: ADMIN_PASSWORD };
    const remote = await server.app.inject({
      method: "POST",
      url: "/admin/api/session",
      payload,
      remoteAddress: "203.0.113.7",
    });
    expect(remote.statusCode).toBe(403);
    expect(remote.json()).toMatchObject({ error: "https_required" });
    const off = await call(
      server,
      "PUT",
      "/admin/api/oauth/settings",
      { authorization: server.adminAuth },
      {
        requireHttps: false,
      },
    );
    expect(off.status).toBe(200);
    try {
      const allowed = await server.app.inject({
        method: "POST",
        url: "/admin/api/session",
        payload,
        remoteAddress: "203.0.113.7",
      });
      expect(allowed.statusCode).toBe(200);
    } finally {
      await call(
        server,
        "PUT",
        "/admin/api/oauth/settings",
        { authorization: server.adminAuth },
        {
          requireHttps: true,
        },
      );
    }
  });

  it("serves the console: the page with its security headers, immutable assets, redirects", async () => {
    const page = await call(server, "GET", "/admin/", {});
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(page.headers.get("content-security-policy")).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
    );
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    const html = await page.text();
    expect(html).toMatch(/<html/i);

    const asset = /\/admin\/assets\/[^"']+\.js/.exec(html)?.[0];
    expect(asset).toBeDefined();
    const script = await call(server, "GET", asset!, {});
    expect(script.status).toBe(200);
    expect(script.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(script.headers.get("content-type")).toMatch(/javascript/);
    expect(script.headers.get("x-content-type-options")).toBe("nosniff");
    const missing = await call(server, "GET", "/admin/assets/index-nothere.js", {});
    expect(missing.status).toBe(404);
    const escape = await call(server, "GET", "/admin/assets/..%2f..%2fpackage.json", {});
    expect([403, 404]).toContain(escape.status);

    const deep = await call(server, "GET", "/admin/security/oauth/clients", {});
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);
    expect(deep.headers.get("cache-control")).toBe("no-cache");
    expect(deep.headers.get("x-frame-options")).toBe("DENY");

    for (const path of ["/", "/admin"]) {
      const redirect = await call(server, "GET", path, {});
      expect(redirect.status).toBe(302);
      expect(redirect.headers.get("location")).toBe("/admin/");
    }
    const unknown = await call(server, "GET", "/admin/api/nope", {});
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await unknown.json()).toMatchObject({ error: "not_found" });
    // The API is untouched by the page routes.
    expect((await call(server, "GET", "/admin/api/users", {})).status).toBe(401);
  });

  it("answers statistics in the agreed shape, counting requests, with a 10-second history", async () => {
    const statistics = statisticsOf(server.conduit);
    await statistics.sample();
    const read = async () => {
      const response = await call(server, "GET", "/admin/api/statistics", {
        authorization: server.adminAuth,
      });
      expect(response.status).toBe(200);
      return (await response.json()) as {
        startedAt: string;
        uptimeSeconds: number;
        requests: { total: number; byStatus: Record<string, number> };
        introspection: Record<string, number>;
        history: { at: string; requests: number; introspectionCalls: number }[];
      };
    };
    const before = await read();
    expect(Object.keys(before).sort()).toEqual([
      "history",
      "introspection",
      "requests",
      "startedAt",
      "uptimeSeconds",
    ]);
    expect(new Date(before.startedAt).toISOString()).toBe(before.startedAt);
    expect(before.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(Object.keys(before.introspection).sort()).toEqual([
      "cacheHits",
      "cacheMisses",
      "calls",
      "failures",
    ]);
    for (const value of Object.values(before.introspection)) expect(Number.isInteger(value)).toBe(true);
    expect(before.requests.total).toBe(Object.values(before.requests.byStatus).reduce((a, b) => a + b, 0));

    for (let i = 0; i < 3; i++)
      await call(server, "GET", "/invoke/pub.math/randomDouble", { authorization: server.adminAuth });
    await call(server, "GET", "/invoke/pub.math/randomDouble", {});
    await statistics.sample();
    const after = await read();
    // The 4 calls and the first statistics read.
    expect(after.requests.total).toBe(before.requests.total + 5);
    expect(after.requests.byStatus["200"]).toBe((before.requests.byStatus["200"] ?? 0) + 4);
    expect(after.requests.byStatus["401"]).toBe((before.requests.byStatus["401"] ?? 0) + 1);
    expect(after.history.length).toBeGreaterThan(0);
    const last = after.history.at(-1)!;
    expect(Object.keys(last).sort()).toEqual(["at", "introspectionCalls", "requests"]);
    expect(new Date(last.at).toISOString()).toBe(last.at);
    const counted = after.history.reduce((n, s) => n + s.requests, 0);
    expect(counted).toBeGreaterThanOrEqual(5);
    // Oldest first, and never more than 15 minutes of 10-second intervals.
    for (let i = 0; i < 100; i++) await statistics.sample();
    const full = await read();
    expect(full.history.length).toBe(90);
    const times = full.history.map((s) => Date.parse(s.at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    // Guarded like the admin API.
    expect((await call(server, "GET", "/admin/api/statistics", {})).status).toBe(401);
    await createUser(server, "stats-reader", "stats-password", []);
    expect(
      (
        await call(server, "GET", "/admin/api/statistics", {
          authorization: basic("stats-reader", "stats-password"),
        })
      ).status,
    ).toBe(403);
  });
});

describe("admin console session across two nodes on one PostgreSQL database", () => {
  let database: { url: string; drop: () => Promise<void> };
  let nodeA: TestServer;
  let nodeB: TestServer;

  beforeAll(async () => {
    database = await freshPostgresDatabase();
    const env = { CONDUIT_SECRET_KEY: randomBytes(32).toString("base64") };
    nodeA = await startServer({ databaseUrl: database.url, env });
    nodeB = await startServer({ databaseUrl: database.url, env });
  });
  afterAll(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await database?.drop();
  });

  it("a session opened on one node works on the other, and sign-out ends it on both", async () => {
    const session = await signIn(nodeA);
    // Node B's own origin differs (another port): the console talks to one node, so no Origin here.
    expect((await call(nodeB, "GET", "/admin/api/users", withSession(session))).status).toBe(200);
    expect((await call(nodeB, "GET", "/invoke/pub.math/randomDouble", withSession(session))).status).toBe(
      200,
    );
    expect((await call(nodeA, "DELETE", "/admin/api/session", withSession(session))).status).toBe(204);
    expect((await call(nodeA, "GET", "/admin/api/users", withSession(session))).status).toBe(401);
    // Node B had it in memory; the change feed drops it there (NOTIFY takes milliseconds).
    await eventually(
      async () => (await call(nodeB, "GET", "/admin/api/users", withSession(session))).status === 401,
      2_000,
    );
    expect((await call(nodeB, "GET", "/invoke/pub.math/randomDouble", withSession(session))).status).toBe(
      401,
    );
  });

  it("a user deleted on one node loses its session on the other", async () => {
    await createUser(nodeA, "ops-cluster", "ops-cluster-password", ["Administrators"]);
    const session = await signIn(nodeA, "ops-cluster", "ops-cluster-password");
    expect((await call(nodeB, "GET", "/admin/api/users", withSession(session))).status).toBe(200);
    expect(
      (await call(nodeA, "DELETE", "/admin/api/users/ops-cluster", { authorization: nodeA.adminAuth }))
        .status,
    ).toBe(204);
    await eventually(
      async () => (await call(nodeB, "GET", "/admin/api/users", withSession(session))).status === 401,
      2_000,
    );
  });
});

describe("admin console without a build", () => {
  it("answers 503 on /admin/ telling to run npm run build, and starts anyway", async () => {
    const server = await startServer({ database: "sqlite" });
    const empty = mkdtempSync(join(tmpdir(), "conduit-no-console-"));
    const app = Fastify();
    try {
      await app.register(consoleRoutes, { conduit: server.conduit, root: empty });
      for (const path of ["/admin/", "/admin/users"]) {
        const answer = await app.inject({ method: "GET", url: path });
        expect(answer.statusCode).toBe(503);
        expect(answer.json()).toMatchObject({ error: "console_not_built" });
        expect(answer.json().message).toContain("npm run build");
      }
      // The session endpoints do not depend on the build.
      const signedIn = await app.inject({
        method: "POST",
        url: "/admin/api/session",
        payload: { username: "Administrator", password: ADMIN_PASSWORD },
      });
      expect(signedIn.statusCode).toBe(200);
    } finally {
      await app.close();
      await server.close();
      rmSync(empty, { recursive: true, force: true });
    }
    expect(CONSOLE_ROOT).toMatch(/dist[/\\]console$/);
  });
});

describe("admin console over HTTPS", () => {
  it("marks the cookie Secure when the request came over TLS", async () => {
    const server = await startServer({ database: "sqlite" });
    const dir = mkdtempSync(join(tmpdir(), "conduit-console-tls-"));
    const [keyFile, certFile] = [join(dir, "key.pem"), join(dir, "cert.pem")];
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
        ...["-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", "/CN=127.0.0.1"],
        ...["-addext", "subjectAltName=IP:127.0.0.1"],
      ],
      { stdio: "ignore" },
    );
    const cert = readFileSync(certFile, "utf8");
    const app = Fastify({ https: { key: readFileSync(keyFile), cert } });
    const agent = new Agent({ connect: { ca: cert } });
    try {
      await app.register(consoleRoutes, { conduit: server.conduit });
      await app.listen({ port: 0, host: "127.0.0.1" });
      const { port } = app.server.address() as AddressInfo;
      const answer = await request(`https://127.0.0.1:${port}/admin/api/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "Administrator", password: ADMIN_PASSWORD }),
        dispatcher: agent,
      });
      expect(answer.statusCode).toBe(200);
      const setCookie = String(answer.headers["set-cookie"]);
      expect(setCookie.split(";").map((a) => a.trim())).toEqual(
        expect.arrayContaining(["HttpOnly", "SameSite=Strict", "Path=/", "Secure"]),
      );
      const body = (await answer.body.json()) as Session["body"];
      const out = await request(`https://127.0.0.1:${port}/admin/api/session`, {
        method: "DELETE",
        headers: { cookie: setCookie.split(";")[0]!, "x-csrf-token": body.csrfToken },
        dispatcher: agent,
      });
      expect(out.statusCode).toBe(204);
      expect(String(out.headers["set-cookie"])).toContain("Secure");
    } finally {
      await agent.close();
      await app.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("console session configuration", () => {
  it("reads CONDUIT_CONSOLE_IDLE_MINUTES and CONDUIT_CONSOLE_SESSION_HOURS, refusing bad values by name", () => {
    const base = { CONDUIT_DATA_DIR: tmpdir() };
    expect(loadConfig(base)).toMatchObject({ consoleIdleMinutes: 30, consoleSessionHours: 8 });
    expect(
      loadConfig({ ...base, CONDUIT_CONSOLE_IDLE_MINUTES: "5", CONDUIT_CONSOLE_SESSION_HOURS: "2" }),
    ).toMatchObject({ consoleIdleMinutes: 5, consoleSessionHours: 2 });
    for (const [variable, value] of [
      ["CONDUIT_CONSOLE_IDLE_MINUTES", "abc"],
      ["CONDUIT_CONSOLE_IDLE_MINUTES", "0"],
      ["CONDUIT_CONSOLE_SESSION_HOURS", "-1"],
      ["CONDUIT_CONSOLE_SESSION_HOURS", "100000"],
    ] as const) {
      let error: unknown;
      try {
        loadConfig({ ...base, [variable]: value });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe(variable);
      expect((error as Error).message).toContain(variable);
    }
  });

  it("uses the configured timeouts", async () => {
    const clock = new ManualClock();
    const server = await startServer({
      database: "sqlite",
      clock,
      env: { CONDUIT_CONSOLE_IDLE_MINUTES: "2", CONDUIT_CONSOLE_SESSION_HOURS: "1" },
    });
    try {
      const session = await signIn(server);
      expect(session.body.idleTimeoutSeconds).toBe(120);
      expect(Date.parse(session.body.expiresAt)).toBe(clock.now() + 3_600_000);
      clock.advance(2 * MINUTE + 1);
      expect((await call(server, "GET", "/admin/api/users", withSession(session))).status).toBe(401);
    } finally {
      await server.close();
    }
  });
});
