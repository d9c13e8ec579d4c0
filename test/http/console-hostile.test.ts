import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../support/server.js";

/**
 * Whatever reaches the console's session endpoints and pages (bodies, cookies, CSRF headers, origins,
 * paths), the answer is a 2xx, 3xx or 4xx: never a 500, a crash or a hang, and never a session for bad
 * credentials. Through app.inject, so thousands of cases run quickly.
 */
describe("hostile input on the console's session and pages", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { CONDUIT_BODY_LIMIT: "4096" } });
  });
  afterAll(async () => server.close());

  const text = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.constantFrom("", "administrator", "\u0000", "a".repeat(300), "é\u202e", "../../etc/passwd"),
  );
  const cookie = fc.oneof(
    fc.constant(undefined),
    fc.string({ maxLength: 120 }).map((v) => `conduit_session=${v}`),
    fc.constantFrom(
      "conduit_session=" + "A".repeat(43),
      "conduit_session=; conduit_session=x",
      "conduit_session",
      "=;;=",
      "conduit_oauth=x; conduit_session=%ZZ",
    ),
  );
  const header = fc.option(
    fc
      .string({ maxLength: 80 })
      .filter((v) => !v.includes("\r") && !v.includes("\n") && !v.includes("\u0000")),
    {
      nil: undefined,
    },
  );
  const body = fc.oneof(
    {
      arbitrary: fc.record({
        username: fc.string({ maxLength: 20 }),
        password: fc.string({ maxLength: 40 }),
      }),
      weight: 4,
    },
    fc.record({
      username: fc.oneof(text, fc.integer(), fc.constant(null)),
      password: fc.oneof(text, fc.integer()),
    }),
    fc.string({ maxLength: 200 }),
    fc.constant("{"),
    fc.array(fc.string(), { maxLength: 3 }).map((a) => JSON.stringify(a)),
  );

  it("POST, GET and DELETE /admin/api/session never answer 5xx, and bad credentials never open a session", async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ arbitrary: fc.constant("POST"), weight: 3 }, fc.constantFrom("GET", "DELETE", "PUT")),
        body,
        cookie,
        header,
        // Mostly what a browser sends (no foreign Origin, JSON), so that most cases reach the password check.
        fc.oneof({ arbitrary: fc.constant(undefined), weight: 5 }, { arbitrary: header, weight: 1 }),
        fc.oneof(
          { arbitrary: fc.constant("application/json"), weight: 5 },
          { arbitrary: fc.constantFrom("application/x-www-form-urlencoded", "text/plain", ""), weight: 1 },
        ),
        fc.tuple(
          fc.integer({ min: 0, max: 255 }),
          fc.integer({ min: 0, max: 255 }),
          fc.integer({ min: 1, max: 254 }),
        ),
        async (method, payload, cookieHeader, csrf, origin, type, [a, b, c]) => {
          const headers: Record<string, string> = {};
          if (cookieHeader !== undefined) headers.cookie = cookieHeader;
          if (csrf !== undefined) headers["x-csrf-token"] = csrf;
          if (origin !== undefined) headers.origin = origin;
          if (type) headers["content-type"] = type;
          const response = await server.app.inject({
            method,
            url: "/admin/api/session",
            headers,
            // Loopback (so requireHttps lets sign-in through) but many addresses, so that the login
            // throttle, which rightly slows a guesser on one address, does not slow the test down.
            remoteAddress: `127.${a}.${b}.${c}`,
            ...(method === "POST" || method === "PUT"
              ? { payload: typeof payload === "string" ? payload : JSON.stringify(payload) }
              : {}),
          });
          expect(response.statusCode, response.body).toBeLessThan(500);
          const code =
            response.statusCode >= 400 ? (JSON.parse(response.body) as { error: string }).error : "ok";
          seen.set(code, (seen.get(code) ?? 0) + 1);
          if (response.statusCode >= 400) expect(() => JSON.parse(response.body)).not.toThrow();
          // None of these cases holds the Administrator's password: no session may come out of them.
          expect(String(response.headers["set-cookie"] ?? "")).not.toMatch(
            /conduit_session=[A-Za-z0-9_-]{43}/,
          );
        },
      ),
      { numRuns: 300 },
    );
    // The cases reached the password check, not only the gates before it.
    expect(seen.get("invalid_credentials") ?? 0, JSON.stringify([...seen])).toBeGreaterThan(20);
  });

  it("paths under /admin/ and the console's assets never answer 5xx, and never escape dist/console", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 60 }).map((p) => `/admin/${encodeURI(p)}`),
          fc.constantFrom(
            "/admin/assets/../../package.json",
            "/admin/assets/%2e%2e/%2e%2e/package.json",
            "/admin/..%2f..%2fpackage.json",
            "/admin/assets/",
            "/admin/assets/nope.js",
            "/admin//etc/passwd",
            "/admin/%00",
            "/admin/api",
            "/admin/api/",
          ),
        ),
        cookie,
        async (url, cookieHeader) => {
          const response = await server.app.inject({
            method: "GET",
            url,
            headers: cookieHeader === undefined ? {} : { cookie: cookieHeader },
          });
          expect(response.statusCode, url).toBeLessThan(500);
          expect(response.body).not.toContain('"name": "conduit"');
          expect(response.body).not.toContain("root:x:0:0");
        },
      ),
      { numRuns: 400 },
    );
  });
});
