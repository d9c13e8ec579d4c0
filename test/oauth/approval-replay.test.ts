import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPostgresDatabase } from "../support/postgres.js";
import { basic, startServer, type TestServer } from "../support/server.js";
import { cookieOf, createClient, field, pkce, PASSWORD, REDIRECT, seed, USER } from "./support.js";

/** RFC 9700 §4.2.4 in spirit: one approval gives one code; the approval form cannot be sent twice. */
describe("an approval form sent twice", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
    await seed(server);
  });
  afterAll(async () => server.close());

  it("gives a code once, then refuses the same form, with the old cookie or the renewed one", async () => {
    const client = await createClient(server, {
      type: "confidential",
      redirectUris: [REDIRECT],
      grantTypes: ["authorization_code"],
      scopes: ["math"],
    });
    const { challenge } = await pkce();
    const url = new URL(`${server.url}/oauth2/authorize`);
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id: client.clientId,
      redirect_uri: REDIRECT,
      scope: "math",
      code_challenge: challenge,
      code_challenge_method: "S256",
    }))
      url.searchParams.set(k, v);
    // Signed in with Basic credentials: the answer is the approval page.
    const page = await fetch(url, { headers: { accept: "text/html", authorization: basic(USER, PASSWORD) } });
    expect(page.status).toBe(200);
    const cookie = cookieOf(page);
    const html = await page.text();
    const body = new URLSearchParams({
      ticket: field(html, "ticket"),
      csrf_token: field(html, "csrf_token"),
      scope: "math",
      decision: "approve",
    });
    const submit = (withCookie: string) =>
      fetch(url.origin + url.pathname, {
        method: "POST",
        redirect: "manual",
        headers: {
          cookie: withCookie,
          "content-type": "application/x-www-form-urlencoded",
          accept: "text/html",
        },
        body,
      });
    const first = await submit(cookie);
    expect(first.status).toBe(303);
    expect(new URL(first.headers.get("location")!).searchParams.get("code")).toBeTruthy();
    const renewed = cookieOf(first);
    expect(renewed).not.toBe(cookie);

    for (const again of [cookie, renewed]) {
      const replay = await submit(again);
      expect(replay.status).toBe(400);
      expect(replay.headers.get("location")).toBeNull();
    }
  });
});

/** Issue 11: the decision is recorded in the database, so another node refuses the replay too. */
describe("an approval form replayed on another node of the cluster", () => {
  let nodeA: TestServer;
  let nodeB: TestServer;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const database = await freshPostgresDatabase();
    drop = database.drop;
    const env = { CONDUIT_SECRET_KEY: randomBytes(32).toString("base64") };
    nodeA = await startServer({ databaseUrl: database.url, env });
    nodeB = await startServer({ databaseUrl: database.url, env });
    await seed(nodeA);
  });
  afterAll(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await drop?.();
  });

  /** Node A's approval page for a new client (signed in with Basic), and a way to submit it to a node. */
  async function approvalOnNodeA(): Promise<(node: TestServer) => Promise<Response>> {
    const client = await createClient(nodeA, {
      type: "confidential",
      redirectUris: [REDIRECT],
      grantTypes: ["authorization_code"],
      scopes: ["math"],
    });
    const { challenge } = await pkce();
    const query = new URLSearchParams({
      response_type: "code",
      client_id: client.clientId,
      redirect_uri: REDIRECT,
      scope: "math",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const page = await fetch(`${nodeA.url}/oauth2/authorize?${query}`, {
      headers: { accept: "text/html", authorization: basic(USER, PASSWORD) },
    });
    expect(page.status).toBe(200);
    const cookie = cookieOf(page);
    const html = await page.text();
    const body = new URLSearchParams({
      ticket: field(html, "ticket"),
      csrf_token: field(html, "csrf_token"),
      scope: "math",
      decision: "approve",
    });
    return (node) =>
      fetch(`${node.url}/oauth2/authorize`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
        body,
      });
  }

  it("is refused on node B after node A decided it, with the old cookie", async () => {
    const submit = await approvalOnNodeA();
    const first = await submit(nodeA);
    expect(first.status).toBe(303);
    expect(new URL(first.headers.get("location")!).searchParams.get("code")).toBeTruthy();
    // Node B never saw this form: only the database can tell it that the decision was taken.
    const replay = await submit(nodeB);
    expect(replay.status).toBe(400);
    expect(replay.headers.get("location")).toBeNull();
    expect(await replay.text()).toContain("already submitted");
  });

  it("an undecided form still works on the other node (tickets are not bound to a node)", async () => {
    const submit = await approvalOnNodeA();
    expect((await submit(nodeB)).status).toBe(303);
  });
});
