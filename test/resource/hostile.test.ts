import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DATABASES, startServer, type TestServer } from "../support/server.js";
import { createUser } from "./support/conduit.js";
import { FIELDS } from "../../src/admin/external-servers.js";

const BASE = "/admin/api/oauth/external-servers";

/** Whatever an administrator sends, the external-server API answers 2xx or a clear 4xx, never a 5xx. */
describe.each(DATABASES)(
  "hostile input to the external-server admin API and bearer check (%s)",
  (database) => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer({ database });
      await createUser(server, "partner");
    });
    afterAll(async () => server?.close());

    const field = fc.constantFrom(...FIELDS);
    const value = fc.oneof(
      fc.string(),
      fc.string({ unit: "binary" }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom(
        "partner",
        "http://127.0.0.1:1/introspect",
        "https://127.0.0.1:1/",
        "local",
        "",
        "a\u0000b",
      ),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
    );
    const body = fc.dictionary(field, value, { maxKeys: 8 });

    test("POST and PUT bodies", async () => {
      await fc.assert(
        fc.asyncProperty(body, fc.constantFrom("POST", "PUT"), async (input, method) => {
          const path = method === "POST" ? BASE : `${BASE}/Okta`;
          const response = await fetch(`${server.url}${path}`, {
            method,
            headers: { authorization: server.adminAuth, "content-type": "application/json" },
            body: JSON.stringify(input),
          });
          expect(response.status, JSON.stringify(input)).toBeLessThan(500);
          if (response.status >= 400)
            expect(((await response.json()) as { error: string }).error).toBeTypeOf("string");
        }),
        { numRuns: 150 },
      );
    });

    test("names in the path, and bearer tokens of every shape", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.string({ minLength: 1 }), fc.constant("a\u0000")),
          fc.string(),
          async (name, token) => {
            const read = await fetch(`${server.url}${BASE}/${encodeURIComponent(name)}`, {
              headers: { authorization: server.adminAuth },
            });
            expect(read.status).toBeLessThan(500);
            const header = `Bearer ${token}`;
            if (!/^[\t\x20-\x7e]*$/.test(header)) return;
            const invoked = await fetch(`${server.url}/invoke/pub.math/randomDouble`, {
              headers: { authorization: header },
            });
            expect(invoked.status).toBeLessThan(500);
          },
        ),
        { numRuns: 150 },
      );
    });
  },
);
