import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../support/server.js";

/**
 * Whatever arrives at /invoke or the admin API, the answer is a 4xx (or a 2xx) with a JSON error body:
 * never a 500, a crash or a hang. Uses app.inject so thousands of cases run quickly; the server under
 * test is the same application that listens in the other suites.
 */
describe("hostile input on /invoke and the admin API", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { CONDUIT_BODY_LIMIT: "4096" } });
  });
  afterAll(async () => server.close());

  const services = [
    "pub.math/addInts",
    "pub.math:divideInts",
    "pub.string/substring",
    "pub.json/jsonStringToDocument",
    "pub.string/bytesToString",
    "pub.date/getCurrentDateString",
    "pub.flow/setResponseHeader",
    "pub.string/replace",
    "x/y",
    "pub..math/x",
    "%E0%A4%A/x",
  ];
  const contentTypes = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/json; charset=latin1",
    "multipart/form-data; boundary=x",
    "",
  ];
  const value = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
  );
  const body = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc
      .dictionary(
        fc.constantFrom(
          "num1",
          "num2",
          "inString",
          "beginIndex",
          "endIndex",
          "jsonString",
          "bytes",
          "encoding",
          "pattern",
          "timezone",
          "fieldName",
          "fieldValue",
          "searchString",
          "useRegex",
          "__proto__",
          "constructor",
        ),
        value,
      )
      .map((d) => JSON.stringify(d)),
    fc.string({ minLength: 5000, maxLength: 6000 }),
  );

  it("answers /invoke with a client error or success, as JSON, for arbitrary requests", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...services),
        fc.constantFrom("GET", "POST", "PUT", "DELETE"),
        fc.constantFrom(...contentTypes),
        body,
        fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 4 }),
        async (service, method, contentType, payload, query) => {
          const qs = new URLSearchParams(query).toString();
          const res = await server.app.inject({
            method: method as "GET",
            url: `/invoke/${service}${qs ? `?${qs}` : ""}`,
            headers: {
              authorization: server.adminAuth,
              ...(contentType ? { "content-type": contentType } : {}),
            },
            ...(method === "GET" ? {} : { payload }),
          });
          expect(res.statusCode, `${method} ${service} ${contentType} ${payload.slice(0, 80)}`).toBeLessThan(
            500,
          );
          if (res.statusCode >= 400) expect(typeof res.json<{ error: unknown }>().error).toBe("string");
        },
      ),
      { numRuns: 400 },
    );
  });

  it("answers the admin API with a client error or success, as JSON, for arbitrary bodies", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          "/admin/api/users",
          "/admin/api/groups",
          "/admin/api/acls",
          "/admin/api/users/x",
          "/admin/api/acls/Default",
          "/admin/api/services/pub.math/acl",
          "/admin/api/groups/Everybody",
        ),
        fc.constantFrom("POST", "PUT", "DELETE", "GET"),
        fc.oneof(
          body,
          fc
            .record(
              {
                username: value,
                password: value,
                groups: value,
                name: value,
                allow: value,
                deny: value,
                acl: value,
                description: value,
              },
              { requiredKeys: [] },
            )
            .map((r) => JSON.stringify(r)),
        ),
        async (url, method, payload) => {
          const res = await server.app.inject({
            method: method as "POST",
            url,
            headers: { authorization: server.adminAuth, "content-type": "application/json" },
            ...(method === "GET" || method === "DELETE" ? {} : { payload }),
          });
          expect(res.statusCode, `${method} ${url} ${payload.slice(0, 120)}`).toBeLessThan(500);
          if (res.statusCode >= 400) expect(typeof res.json<{ error: unknown }>().error).toBe("string");
        },
      ),
      { numRuns: 400 },
    );
    // The built-ins survived whatever was thrown at them.
    const acls = await server.app.inject({
      url: "/admin/api/acls/Default",
      headers: { authorization: server.adminAuth },
    });
    expect(acls.json()).toMatchObject({ name: "Default", allow: ["Everybody"] });
    const admin = await server.app.inject({
      url: "/invoke/pub.math/randomDouble",
      headers: { authorization: server.adminAuth },
    });
    expect(admin.statusCode).toBe(200);
  });
});
