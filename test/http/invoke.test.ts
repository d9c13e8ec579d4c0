import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, basic, startServer, type TestServer } from "../support/server.js";

/** The foundation's "done when", over real HTTP, on SQLite and on PostgreSQL. */
describe.each(DATABASES)("/invoke and the admin API on %s", (database) => {
  let server: TestServer;
  let dataDir: string;
  let databaseUrl: string | undefined;
  const admin = () => ({ authorization: server.adminAuth });
  const json = (headers: Record<string, string> = {}) => ({ "content-type": "application/json", ...headers });

  beforeAll(async () => {
    server = await startServer({ database, env: { CONDUIT_BODY_LIMIT: "65536" } });
    dataDir = server.dataDir;
    databaseUrl = server.config.databaseUrl;
  });
  afterAll(async () => server.close());

  it("runs pub.math/randomDouble for Administrator", async () => {
    const res = await fetch(`${server.url}/invoke/pub.math/randomDouble`, { headers: admin() });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as { number: number };
    expect(Object.keys(body)).toEqual(["number"]);
    expect(body.number).toBeGreaterThanOrEqual(0);
    expect(body.number).toBeLessThan(1);
  });

  it("answers 401 with WWW-Authenticate challenges when no credentials are given", async () => {
    const res = await fetch(`${server.url}/invoke/pub.math/randomDouble`);
    expect(res.status).toBe(401);
    const challenges = res.headers.get("www-authenticate") ?? "";
    expect(challenges).toContain('Basic realm="Conduit"');
    expect(challenges).toContain('Bearer realm="Conduit"');
    expect(await res.json()).toMatchObject({ error: "unauthorized" });
  });

  it("answers 401 to a wrong password and to an unknown user", async () => {
    for (const auth of [basic("Administrator", "wrong-password"), basic("nobody", "whatever1")]) {
      const res = await fetch(`${server.url}/invoke/pub.math/randomDouble`, {
        headers: { authorization: auth },
      });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain("Basic");
    }
  });

  it("answers 401 to malformed Basic credentials and to an unknown scheme", async () => {
    for (const authorization of [
      "Basic !!!",
      "Basic " + Buffer.from("nocolon").toString("base64"),
      "Digest abc",
    ]) {
      const res = await fetch(`${server.url}/invoke/pub.math/randomDouble`, { headers: { authorization } });
      expect(res.status).toBe(401);
    }
  });

  it("lets a user created through the admin API invoke pub.math but not use the admin API", async () => {
    const created = await fetch(`${server.url}/admin/api/users`, {
      method: "POST",
      headers: json(admin()),
      body: JSON.stringify({ username: "alice", password: "alice-password", groups: [] }),
    });
    expect(created.status).toBe(201);
    const user = (await created.json()) as Record<string, unknown>;
    expect(user).toMatchObject({ username: "alice", groups: ["Everybody"] });
    expect(JSON.stringify(user)).not.toContain("alice-password");
    expect(user).not.toHaveProperty("passwordHash");

    const alice = { authorization: basic("alice", "alice-password") };
    const invoked = await fetch(`${server.url}/invoke/pub.math:addInts?num1=40&num2=2`, { headers: alice });
    expect(invoked.status).toBe(200);
    expect(await invoked.json()).toEqual({ value: 42 });

    const forbidden = await fetch(`${server.url}/admin/api/users`, { headers: alice });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ error: "admin_required" });
  });

  it("answers 404 for an unknown service and for a path that is not a service name", async () => {
    const unknown = await fetch(`${server.url}/invoke/pub.math/noSuchService`, { headers: admin() });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: "service_not_found" });
    const bad = await fetch(`${server.url}/invoke/justone`, { headers: admin() });
    expect(bad.status).toBe(404);
  });

  it("answers 400 to malformed JSON", async () => {
    const res = await fetch(`${server.url}/invoke/pub.math/addInts`, {
      method: "POST",
      headers: json(admin()),
      body: '{"num1": 1,',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_json" });
  });

  it("answers 400 naming a missing or mistyped input", async () => {
    const missing = await fetch(`${server.url}/invoke/pub.math/addInts`, {
      method: "POST",
      headers: json(admin()),
      body: JSON.stringify({ num1: 1 }),
    });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: "missing_input", field: "num2" });
    const mistyped = await fetch(`${server.url}/invoke/pub.math/addInts?num1=1&num2=two`, {
      headers: admin(),
    });
    expect(mistyped.status).toBe(400);
    expect(await mistyped.json()).toMatchObject({ error: "invalid_input", field: "num2" });
  });

  it("answers 413 to a body over the limit", async () => {
    const res = await fetch(`${server.url}/invoke/pub.string/length`, {
      method: "POST",
      headers: json(admin()),
      body: JSON.stringify({ inString: "x".repeat(100_000) }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: "payload_too_large" });
  });

  it("takes inputs from the query, a form body and a JSON body, in the folder:service form too", async () => {
    const form = await fetch(`${server.url}/invoke/pub.string:concat?inString1=con`, {
      method: "POST",
      headers: { ...admin(), "content-type": "application/x-www-form-urlencoded" },
      body: "inString2=duit",
    });
    expect(await form.json()).toEqual({ value: "conduit" });
    const body = await fetch(`${server.url}/invoke/pub.string/toUpper`, {
      method: "POST",
      headers: json(admin()),
      body: JSON.stringify({ inString: "conduit" }),
    });
    expect(await body.json()).toEqual({ value: "CONDUIT" });
  });

  it("answers 415 to a body of an unsupported type and 400 to a JSON body that is not an object", async () => {
    const xml = await fetch(`${server.url}/invoke/pub.math/randomDouble`, {
      method: "POST",
      headers: { ...admin(), "content-type": "application/xml" },
      body: "<a/>",
    });
    expect(xml.status).toBe(415);
    const array = await fetch(`${server.url}/invoke/pub.math/randomDouble`, {
      method: "POST",
      headers: json(admin()),
      body: "[1,2]",
    });
    expect(array.status).toBe(400);
  });

  it("enforces ACLs: a folder's ACL, a service's own ACL, Anonymous, deny over allow", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${server.url}/admin/api${path}`, {
        method: "POST",
        headers: json(admin()),
        body: JSON.stringify(body),
      });
    const put = (path: string, body: unknown) =>
      fetch(`${server.url}/admin/api${path}`, {
        method: "PUT",
        headers: json(admin()),
        body: JSON.stringify(body),
      });
    expect((await post("/groups", { name: "Calculators" })).status).toBe(201);
    expect(
      (await post("/users", { username: "bob", password: "bob-password", groups: ["Calculators"] })).status,
    ).toBe(201);
    expect((await post("/acls", { name: "CalcOnly", allow: ["Calculators"], deny: [] })).status).toBe(201);
    expect((await post("/acls", { name: "Broken", allow: ["NoSuchGroup"] })).status).toBe(400);

    const setFolder = await put("/services/pub.math/acl", { acl: "CalcOnly" });
    expect(setFolder.status).toBe(200);
    expect(await setFolder.json()).toMatchObject({ name: "pub.math", acl: "CalcOnly", aclFrom: "pub.math" });

    const alice = { authorization: basic("alice", "alice-password") };
    const bob = { authorization: basic("bob", "bob-password") };
    expect((await fetch(`${server.url}/invoke/pub.math/randomDouble`, { headers: alice })).status).toBe(403);
    expect((await fetch(`${server.url}/invoke/pub.math/randomDouble`, { headers: bob })).status).toBe(200);
    // Administrators are not in CalcOnly: ACLs apply to everyone.
    expect((await fetch(`${server.url}/invoke/pub.math/randomDouble`, { headers: admin() })).status).toBe(
      403,
    );

    // A service's own ACL wins over its folder's.
    expect((await put("/services/pub.math:addInts/acl", { acl: "Anonymous" })).status).toBe(200);
    const anonymous = await fetch(`${server.url}/invoke/pub.math/addInts?num1=1&num2=2`);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ value: 3 });

    // Deny wins over allow.
    expect(
      (await put("/acls/CalcOnly", { allow: ["Calculators", "Everybody"], deny: ["Calculators"] })).status,
    ).toBe(200);
    expect((await fetch(`${server.url}/invoke/pub.math/randomDouble`, { headers: bob })).status).toBe(403);
    expect((await fetch(`${server.url}/invoke/pub.math/randomDouble`, { headers: alice })).status).toBe(200);

    // An ACL in use cannot be deleted; unknown ACLs and nodes are refused.
    expect(
      (await fetch(`${server.url}/admin/api/acls/CalcOnly`, { method: "DELETE", headers: admin() })).status,
    ).toBe(409);
    expect((await put("/services/pub.math/acl", { acl: "NoSuchAcl" })).status).toBe(400);
    expect((await put("/services/no.such.folder/acl", { acl: "Default" })).status).toBe(404);
  });

  it("refuses a changed password and a deleted user at once", async () => {
    const headers = { authorization: basic("carol", "carol-password") };
    const create = await fetch(`${server.url}/admin/api/users`, {
      method: "POST",
      headers: json(admin()),
      body: JSON.stringify({ username: "carol", password: "carol-password" }),
    });
    expect(create.status).toBe(201);
    expect((await fetch(`${server.url}/invoke/pub.string/length?inString=abc`, { headers })).status).toBe(
      200,
    );
    const changed = await fetch(`${server.url}/admin/api/users/carol`, {
      method: "PUT",
      headers: json(admin()),
      body: JSON.stringify({ password: "carol-new-password" }),
    });
    expect(changed.status).toBe(200);
    expect((await fetch(`${server.url}/invoke/pub.string/length?inString=abc`, { headers })).status).toBe(
      401,
    );
    const fresh = { authorization: basic("carol", "carol-new-password") };
    expect(
      (await fetch(`${server.url}/invoke/pub.string/length?inString=abc`, { headers: fresh })).status,
    ).toBe(200);
    expect(
      (await fetch(`${server.url}/admin/api/users/carol`, { method: "DELETE", headers: admin() })).status,
    ).toBe(204);
    expect(
      (await fetch(`${server.url}/invoke/pub.string/length?inString=abc`, { headers: fresh })).status,
    ).toBe(401);
  });

  it("validates admin API input with 4xx answers that name the field", async () => {
    const post = (body: string) =>
      fetch(`${server.url}/admin/api/users`, { method: "POST", headers: json(admin()), body });
    const cases: [string, number, string | undefined][] = [
      [JSON.stringify({ username: "x", password: "short" }), 400, "password"],
      [JSON.stringify({ password: "long-enough-password" }), 400, "username"],
      [JSON.stringify({ username: "a:b", password: "long-enough-password" }), 400, "username"],
      [JSON.stringify({ username: "y", password: "long-enough-password", groups: ["Nope"] }), 400, "groups"],
      [JSON.stringify({ username: "y", password: "long-enough-password", isAdmin: true }), 400, undefined],
      [JSON.stringify({ username: "alice", password: "long-enough-password" }), 409, undefined],
      ["[]", 400, undefined],
      ["null", 400, undefined],
    ];
    for (const [body, status, field] of cases) {
      const res = await post(body);
      expect(res.status, body).toBe(status);
      const answer = (await res.json()) as { error: string; field?: string };
      expect(typeof answer.error).toBe("string");
      if (field) expect(answer.field).toBe(field);
    }
    expect(
      (await fetch(`${server.url}/admin/api/users/Administrator`, { method: "DELETE", headers: admin() }))
        .status,
    ).toBe(400);
    expect((await fetch(`${server.url}/admin/api/users/nobody`, { headers: admin() })).status).toBe(404);
  });

  it("lists the namespace with ACLs and shows a service's signature", async () => {
    const list = (await (await fetch(`${server.url}/admin/api/services`, { headers: admin() })).json()) as {
      folders: { name: string }[];
      services: { name: string; acl: string }[];
    };
    expect(list.folders.map((f) => f.name)).toEqual(
      expect.arrayContaining(["pub", "pub.math", "pub.string"]),
    );
    expect(list.services.find((s) => s.name === "pub.math:randomDouble")).toMatchObject({
      acl: "CalcOnly",
      aclFrom: "pub.math",
    });
    expect(list.services.find((s) => s.name === "pub.string:concat")).toMatchObject({
      acl: "Default",
      aclFrom: null,
    });
    const one = await fetch(`${server.url}/admin/api/services/pub.math:addInts`, { headers: admin() });
    expect(await one.json()).toMatchObject({
      name: "pub.math:addInts",
      acl: "Anonymous",
      signature: { input: [{ name: "num1" }, { name: "num2" }] },
    });
  });

  it("writes the audit trail to the server log, readable by administrators, without secrets", async () => {
    const res = await fetch(`${server.url}/admin/api/log?event=audit&lines=100`, { headers: admin() });
    expect(res.status).toBe(200);
    const { entries } = (await res.json()) as { entries: { action: string; target: string }[] };
    expect(entries.some((e) => e.action === "user.create" && e.target === "alice")).toBe(true);
    expect(JSON.stringify(entries)).not.toContain("alice-password");
    expect((await fetch(`${server.url}/admin/api/log?lines=0`, { headers: admin() })).status).toBe(400);
    expect(
      (
        await fetch(`${server.url}/admin/api/log`, {
          headers: { authorization: basic("alice", "alice-password") },
        })
      ).status,
    ).toBe(403);
  });

  it("keeps users and ACLs across a restart", async () => {
    await server.app.close();
    await server.conduit.close();
    const restarted = await startServer({ dataDir, ...(databaseUrl ? { databaseUrl } : {}) });
    try {
      const bob = { authorization: basic("alice", "alice-password") };
      const res = await fetch(`${restarted.url}/invoke/pub.math/randomDouble`, { headers: bob });
      expect(res.status).toBe(200); // alice is in Everybody, which CalcOnly now allows
      const acl = await fetch(`${restarted.url}/admin/api/services/pub.math`, {
        headers: { authorization: restarted.adminAuth },
      });
      expect(await acl.json()).toMatchObject({ acl: "CalcOnly" });
    } finally {
      await restarted.app.close();
      await restarted.conduit.close();
    }
    // Re-open for afterAll's close.
    server = await startServer({ dataDir, ...(databaseUrl ? { databaseUrl } : {}) });
  });
});

describe("pub.flow:getTransportInfo over HTTP", () => {
  it("describes the HTTP request, without credentials", async () => {
    const server = await startServer();
    try {
      const res = await fetch(`${server.url}/invoke/pub.flow/getTransportInfo?x=1`, {
        headers: { authorization: server.adminAuth, "x-trace": "abc", cookie: "secret=1" },
      });
      const { transport } = (await res.json()) as {
        transport: Record<string, unknown> & { headers: Record<string, string> };
      };
      expect(transport).toMatchObject({
        protocol: "http",
        method: "GET",
        path: "/invoke/pub.flow/getTransportInfo",
        ip: "127.0.0.1",
        user: "Administrator",
        authentication: "basic",
      });
      expect(transport.headers["x-trace"]).toBe("abc");
      expect(transport.headers).not.toHaveProperty("authorization");
      expect(transport.headers).not.toHaveProperty("cookie");
    } finally {
      await server.close();
    }
  });
});

describe("service paths", () => {
  it("decodes percent-encoding once, and refuses a bad encoding with 400", async () => {
    const server = await startServer();
    try {
      const get = (path: string) =>
        fetch(`${server.url}${path}`, { headers: { authorization: server.adminAuth } });
      expect((await get("/invoke/pub.math%3ArandomDouble")).status).toBe(200);
      expect((await get("/invoke/pub.math/randomDouble")).status).toBe(200);
      expect((await get("/invoke/pub.math%252FrandomDouble")).status).toBe(404); // %25 decodes to a literal %
      expect((await get("/invoke/pub.math/../math/randomDouble")).status).toBe(404);
      const bad = await get("/invoke/pub.math/random%E0%A4%A");
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toBe("invalid_path");
    } finally {
      await server.close();
    }
  });
});

describe("bursts of logins", () => {
  it("accepts a burst of concurrent first logins with the right password, and refuses wrong ones", async () => {
    const server = await startServer();
    try {
      const call = (password: string) =>
        fetch(`${server.url}/invoke/pub.math/randomDouble`, {
          headers: { authorization: basic("Administrator", password) },
        }).then((r) => r.status);
      // Many connections at once, none of them verified yet: one password check, the rest find it done.
      const right = await Promise.all(Array.from({ length: 40 }, () => call("admin-password-for-tests")));
      expect(right.every((s) => s === 200)).toBe(true);
      const wrong = await Promise.all(Array.from({ length: 8 }, () => call("wrong-password")));
      expect(wrong.every((s) => s === 401)).toBe(true);
      expect(await call("admin-password-for-tests")).toBe(200);
    } finally {
      await server.close();
    }
  });
});
