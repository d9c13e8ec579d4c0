import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, startServer, type TestServer } from "../support/server.js";

/** The final acceptance review's findings on the HTTP surface, each checked over real HTTP. */
describe.each(DATABASES)("acceptance review: HTTP surface (%s)", (database) => {
  let server: TestServer;
  const json = (method: string, path: string, body?: string) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: server.adminAuth, "content-type": "application/json" },
      ...(body === undefined ? {} : { body }),
    });
  /** `{"a":{"a":…1…}}`, `levels` objects deep. */
  const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

  beforeAll(async () => {
    server = await startServer({ database });
  });
  afterAll(async () => server?.close());

  it("takes an empty application/json body as no body (curl -H content-type:application/json -X POST)", async () => {
    const created = await json(
      "POST",
      "/admin/api/oauth/clients",
      JSON.stringify({
        clientName: "empty-body",
        version: "1",
        type: "confidential",
        grantTypes: ["client_credentials"],
        runAsUser: "Administrator",
      }),
    );
    expect(created.status).toBe(201);
    const { clientId } = (await created.json()) as { clientId: string };

    const secret = await json("POST", `/admin/api/oauth/clients/${clientId}/secret`);
    expect(secret.status).toBe(200);
    expect(await secret.json()).toMatchObject({ clientId, clientSecret: expect.any(String) });

    const initial = await json("POST", "/admin/api/oauth/initial-access-tokens", "");
    expect(initial.status).toBe(201);
    expect(await initial.json()).toMatchObject({ token: expect.any(String) });

    const invoked = await json("POST", "/invoke/pub.math/addInts?num1=40&num2=2", "  ");
    expect(invoked.status).toBe(200);
    expect(await invoked.json()).toEqual({ value: 42 });

    // An empty body where one is required is the usual 400 naming what is missing, never a 500.
    const user = await json("POST", "/admin/api/users");
    expect(user.status).toBe(400);
    // Broken JSON is still refused.
    const broken = await json("POST", "/admin/api/oauth/initial-access-tokens", "{");
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ error: "invalid_json" });
    const poisoned = await json("POST", "/invoke/pub.math/addInts", '{"__proto__":{"num1":1},"num2":2}');
    expect(poisoned.status).toBe(400);
  });

  /** Sends bytes exactly as written and collects the answer until the server closes the connection. */
  const rawExchange = (payload: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
      let answer = "";
      socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
      socket.on("close", () => resolve(answer));
      socket.on("error", (error: NodeJS.ErrnoException) =>
        error.code === "ECONNRESET" ? resolve(answer) : reject(error),
      );
      socket.write(payload, "latin1");
    });

  it("answers requests that are not valid HTTP with our JSON error and closes the connection", async () => {
    const auth = `Authorization: ${server.adminAuth}\r\n`;
    for (const payload of [
      `GET /invoke/pub.math/random\0Double HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
      `POST /invoke/pub.math/addInts HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 5\r\nContent-Length: 6\r\n\r\n{"a":1}`,
      `POST /invoke/pub.math/addInts HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
    ]) {
      const answer = await rawExchange(payload);
      expect(answer, JSON.stringify(payload)).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(JSON.parse(answer.split("\r\n\r\n")[1]!)).toEqual({
        error: "bad_request",
        message: "the request is not valid HTTP",
      });
    }
    expect(await fetch(`${server.url}/health`).then((r) => r.status)).toBe(200);
  });

  it("answers another method on /invoke with 405 and Allow: GET, POST", async () => {
    for (const method of ["PUT", "DELETE", "PATCH"]) {
      const res = await fetch(`${server.url}/invoke/pub.math/randomDouble`, {
        method,
        headers: { authorization: server.adminAuth },
      });
      expect(res.status, method).toBe(405);
      expect(res.headers.get("allow")).toBe("GET, POST");
      expect(await res.json()).toMatchObject({ error: "method_not_allowed" });
    }
  });

  it("refuses a text/plain body with 415 as the README says, like any other media type", async () => {
    for (const path of ["/invoke/pub.math/randomDouble", "/admin/api/users", "/admin/api/oauth/scopes"]) {
      const res = await fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { authorization: server.adminAuth, "content-type": "text/plain" },
        body: '{"num1":1}',
      });
      expect(res.status, path).toBe(415);
      expect(await res.json()).toMatchObject({ error: "unsupported_media_type" });
    }
    // The OAuth endpoints answer in their own RFC 6749 error format.
    const token = await fetch(`${server.url}/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "grant_type=client_credentials",
    });
    expect(token.status).toBe(415);
    expect(await token.json()).toMatchObject({ error: "invalid_request" });
  });

  it("refuses documents nested too deep with a 400, never a 500 from a stack overflow", async () => {
    for (const service of ["pub.json/documentToJSONString", "pub.flow/tracePipeline", "pub.math/addInts"]) {
      const res = await json("POST", `/invoke/${service}`, `{"document":${nested(100_000)}}`);
      expect(res.status, service).toBe(400);
      expect(await res.json()).toMatchObject({ error: "input_too_deep" });
    }
    const arrays = await json(
      "POST",
      "/invoke/pub.json/documentToJSONString",
      `{"document":${"[".repeat(50_000)}${"]".repeat(50_000)}}`,
    );
    expect(arrays.status).toBe(400);

    // JSON text parsed by a service is held to the same limit.
    const parsed = await json(
      "POST",
      "/invoke/pub.json/jsonStringToDocument",
      JSON.stringify({ jsonString: nested(20_000) }),
    );
    expect(parsed.status).toBe(400);
    expect(await parsed.json()).toMatchObject({ error: "input_too_deep", field: "jsonString" });

    // Real documents, however nested in practice, pass.
    const ok = await json("POST", "/invoke/pub.json/documentToJSONString", `{"document":${nested(90)}}`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { jsonString: string }).jsonString).toBe(nested(90));
    const back = await json(
      "POST",
      "/invoke/pub.json/jsonStringToDocument",
      JSON.stringify({ jsonString: nested(90) }),
    );
    expect(back.status).toBe(200);
    expect(await fetch(`${server.url}/health`).then((r) => r.status)).toBe(200);
  });
});
