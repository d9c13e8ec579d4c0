import { connect } from "node:net";
import { Readable } from "node:stream";
import { request as undiciRequest } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fastOAuthOf } from "../../src/http/app.js";
import { admin as adminCall, clientCredentialsToken, type TestClient } from "../oauth/support.js";
import { basic, DATABASES, startServer, type TestServer } from "../support/server.js";

const FORM = "application/x-www-form-urlencoded";
/** The same media type with a parameter: Fastify's route takes it, the fast path does not. */
const FORM_FOR_FASTIFY = "application/x-www-form-urlencoded; charset=utf-8";

/**
 * The fast path of the token, introspection and revocation endpoints in front of Fastify
 * (src/http/fast-oauth.ts): a plain form POST gets exactly the answer Fastify's route gives, errors
 * included, and everything else is Fastify's.
 */
describe.each(DATABASES)("the OAuth endpoints' fast path (%s)", (database) => {
  let server: TestServer;
  let app: TestClient;
  let rs: TestClient;
  const taken = () => fastOAuthOf(server.app)!.taken;
  const admin = (method: string, path: string, body?: unknown) => adminCall(server, method, path, body);
  const post = async (
    path: string,
    body: string,
    {
      type = FORM,
      authorization,
      headers = {},
    }: { type?: string; authorization?: string; headers?: Record<string, string> } = {},
  ) => {
    const res = await undiciRequest(`${server.url}${path}`, {
      method: "POST",
      headers: {
        ...(type === "" ? {} : { "content-type": type }),
        ...(authorization === undefined ? {} : { authorization }),
        ...headers,
      },
      body,
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  };
  /** The headers that describe the answer (Date and the connection's own headers vary). */
  const described = (headers: Record<string, unknown>) => ({
    type: headers["content-type"],
    length: headers["content-length"],
    cacheControl: headers["cache-control"],
    pragma: headers["pragma"],
    challenge: headers["www-authenticate"],
    retryAfter: headers["retry-after"],
  });
  /** Sends the request on the fast path and through Fastify's route; answers both, checking the path. */
  const both = async (path: string, body: string, authorization?: string) => {
    const n = taken();
    const fast = await post(path, body, authorization === undefined ? {} : { authorization });
    expect(taken()).toBe(n + 1);
    const viaFastify = await post(path, body, {
      type: FORM_FOR_FASTIFY,
      ...(authorization === undefined ? {} : { authorization }),
    });
    expect(taken()).toBe(n + 1);
    expect(Number(fast.headers["content-length"])).toBe(Buffer.byteLength(fast.text));
    return { fast, viaFastify };
  };

  beforeAll(async () => {
    server = await startServer({ database });
    expect((await admin("POST", "/oauth/scopes", { name: "math", values: ["pub.math"] })).status).toBe(201);
    expect((await admin("POST", "/users", { username: "robot", password: "robot-password" })).status).toBe(
      201,
    );
    app = (await clientCredentialsToken(server, "robot", ["math"])).client;
    rs = (await clientCredentialsToken(server, "robot", ["math"])).client;
  });
  afterAll(async () => {
    await server.close();
  });

  const appAuth = () => basic(app.clientId, app.clientSecret!);
  const rsAuth = () => basic(rs.clientId, rs.clientSecret!);

  it("issues, introspects and revokes with the answers Fastify's route gives", async () => {
    const issued = await both("/oauth2/token", "grant_type=client_credentials&scope=math", appAuth());
    for (const answer of [issued.fast, issued.viaFastify]) {
      expect(answer.status).toBe(200);
      expect(described(answer.headers)).toEqual({
        ...described(issued.viaFastify.headers),
        length: String(Buffer.byteLength(answer.text)),
      });
      expect(answer.headers["cache-control"]).toBe("no-store");
      expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
      const body = JSON.parse(answer.text) as Record<string, unknown>;
      expect(Object.keys(body)).toEqual(["access_token", "token_type", "expires_in", "scope"]);
      expect(body).toMatchObject({ token_type: "Bearer", scope: "math" });
    }
    const token = (JSON.parse(issued.fast.text) as { access_token: string }).access_token;

    // The token the fast path issued is stored: both paths introspect it alike.
    const introspected = await both("/oauth2/introspect", `token=${token}`, rsAuth());
    expect(introspected.fast.status).toBe(200);
    expect(introspected.fast.text).toBe(introspected.viaFastify.text);
    expect(described(introspected.fast.headers)).toEqual(described(introspected.viaFastify.headers));
    expect(JSON.parse(introspected.fast.text)).toMatchObject({
      active: true,
      client_id: app.clientId,
      scope: "math",
    });

    // Revoked on the fast path: inactive at once, on both paths, and refused on /invoke.
    const n = taken();
    const revoked = await post("/oauth2/revoke", `token=${token}`, { authorization: appAuth() });
    expect(taken()).toBe(n + 1);
    expect(revoked.status).toBe(200);
    expect(revoked.text).toBe("");
    expect(described(revoked.headers)).toMatchObject({
      length: "0",
      cacheControl: "no-store",
      type: undefined,
    });
    const after = await both("/oauth2/introspect", `token=${token}`, rsAuth());
    expect(JSON.parse(after.fast.text)).toEqual({ active: false });
    expect(after.fast.text).toBe(after.viaFastify.text);
    const invoked = await fetch(`${server.url}/invoke/pub.math/randomDouble`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(invoked.status).toBe(401);
  });

  it("answers every error as Fastify's route does", async () => {
    const cases: [string, string, string | undefined, number, string][] = [
      [
        "/oauth2/token",
        "grant_type=client_credentials",
        basic(app.clientId, "wrong-secret"),
        401,
        "invalid_client",
      ],
      ["/oauth2/token", "grant_type=client_credentials", undefined, 401, "invalid_client"],
      [
        "/oauth2/token",
        "grant_type=password&username=a&password=b",
        appAuth(),
        400,
        "unsupported_grant_type",
      ],
      ["/oauth2/token", "scope=math", appAuth(), 400, "invalid_request"],
      [
        "/oauth2/token",
        "grant_type=client_credentials&grant_type=client_credentials",
        appAuth(),
        400,
        "invalid_request",
      ],
      ["/oauth2/token", "grant_type=client_credentials&scope=m%00ath", appAuth(), 400, "invalid_request"],
      ["/oauth2/token", "grant_type=client_credentials&scope=nosuchscope", appAuth(), 400, "invalid_scope"],
      ["/oauth2/token", "grant_type=%FF%FE", appAuth(), 400, "unsupported_grant_type"],
      ["/oauth2/introspect", "token=", rsAuth(), 400, "invalid_request"],
      ["/oauth2/introspect", "token=abc", basic(rs.clientId, "wrong-secret"), 401, "invalid_client"],
      ["/oauth2/revoke", "nothing=here", appAuth(), 400, "invalid_request"],
    ];
    for (const [path, body, authorization, status, error] of cases) {
      const { fast, viaFastify } = await both(path, body, authorization);
      expect({ body, status: fast.status }).toEqual({ body, status });
      expect(JSON.parse(fast.text)).toMatchObject({ error });
      expect(fast.text).toBe(viaFastify.text);
      expect(described(fast.headers)).toEqual(described(viaFastify.headers));
    }
    // Answers carrying a challenge say so on both paths.
    const { fast } = await both(
      "/oauth2/token",
      "grant_type=client_credentials",
      basic(app.clientId, "wrong"),
    );
    expect(String(fast.headers["www-authenticate"])).toMatch(/^Basic /);
  });

  it("leaves to Fastify a query, another media type, no or a chunked body, a body over the limit, other methods and names", async () => {
    const n = taken();
    const issue = "grant_type=client_credentials&scope=math";
    const answers = [
      await post("/oauth2/token?x=1", issue, { authorization: appAuth() }),
      await post("/oauth2/token", issue, {
        authorization: appAuth(),
        type: "Application/X-WWW-Form-Urlencoded",
      }),
      await post("/oauth2/token", JSON.stringify({ grant_type: "client_credentials" }), {
        authorization: appAuth(),
        type: "application/json",
      }),
      await post("/oauth2/token", "", { authorization: appAuth() }),
      await post("/oauth2/token/", issue, { authorization: appAuth() }),
      await post("/invoke/pub.oauth/getToken", issue, { authorization: appAuth() }),
      await post("/oauth2/token", "x".repeat(server.config.bodyLimit + 1), { authorization: appAuth() }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 400, 400, 404, 200, 413]);
    for (const answer of [answers[2]!, answers[3]!, answers[6]!])
      expect(JSON.parse(answer.text)).toMatchObject({ error: "invalid_request" });
    const put = await undiciRequest(`${server.url}/oauth2/token`, {
      method: "PUT",
      headers: { "content-type": FORM, authorization: appAuth() },
      body: issue,
    });
    expect(put.statusCode).toBe(405);
    await put.body.text();
    // A chunked body (no Content-Length).
    const chunked = await undiciRequest(`${server.url}/oauth2/token`, {
      method: "POST",
      headers: { "content-type": FORM, authorization: appAuth() },
      body: Readable.from([Buffer.from("grant_type=client_"), Buffer.from("credentials&scope=math")]),
    });
    expect(chunked.headers["transfer-encoding"] ?? "").toBe("");
    expect(chunked.statusCode).toBe(200);
    await chunked.body.text();
    expect(taken()).toBe(n);
    // A body exactly at the limit is the fast path's, refused for what it says.
    const atLimit = await post("/oauth2/token", `grant_type=${"x".repeat(server.config.bodyLimit - 11)}`, {
      authorization: appAuth(),
    });
    expect(taken()).toBe(n + 1);
    expect(atLimit.status).toBe(400);
    expect(JSON.parse(atLimit.text)).toMatchObject({ error: "invalid_request" });
  });

  it("fails closed on a disabled client and a deleted owner, on the very next request", async () => {
    const { client, token } = await clientCredentialsToken(server, "robot", ["math"]);
    const auth = basic(client.clientId, client.clientSecret!);
    expect(
      (await post("/oauth2/token", "grant_type=client_credentials", { authorization: auth })).status,
    ).toBe(200);
    expect((await admin("PUT", `/oauth/clients/${client.clientId}`, { enabled: false })).status).toBe(200);
    const n = taken();
    const refused = await post("/oauth2/token", "grant_type=client_credentials", { authorization: auth });
    expect(taken()).toBe(n + 1);
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.text)).toMatchObject({ error: "invalid_client" });
    const inactive = await post("/oauth2/introspect", `token=${token}`, { authorization: rsAuth() });
    expect(JSON.parse(inactive.text)).toEqual({ active: false });

    expect((await admin("POST", "/users", { username: "temp", password: "temp-password" })).status).toBe(201);
    const owned = await clientCredentialsToken(server, "temp", ["math"]);
    const active = await post("/oauth2/introspect", `token=${owned.token}`, { authorization: rsAuth() });
    expect(JSON.parse(active.text)).toMatchObject({ active: true });
    expect((await admin("DELETE", "/users/temp")).status).toBe(204);
    const gone = await post("/oauth2/introspect", `token=${owned.token}`, { authorization: rsAuth() });
    expect(JSON.parse(gone.text)).toEqual({ active: false });
  });

  it("survives a client that leaves in the middle of its body, and counts answers in /metrics", async () => {
    const n = taken();
    await new Promise<void>((resolve, reject) => {
      const url = new URL(server.url);
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          `POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM}\r\nContent-Length: 100\r\n` +
            `Authorization: ${appAuth()}\r\n\r\ngrant_type=client`,
          () => setTimeout(() => socket.destroy(), 50),
        );
      });
      socket.on("close", () => resolve());
      socket.on("error", reject);
    });
    expect(taken()).toBe(n + 1);
    const count = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith('conduit_http_requests_total{status="200"}'));
      return Number(line?.split(" ")[1] ?? 0);
    };
    const before = await count();
    for (let i = 0; i < 3; i++)
      expect(
        (await post("/oauth2/token", "grant_type=client_credentials", { authorization: appAuth() })).status,
      ).toBe(200);
    expect(taken()).toBe(n + 4);
    // The three answers, and the scrape of `before` itself (counted as it was sent).
    expect(await count()).toBe(before + 4);
  });
});
