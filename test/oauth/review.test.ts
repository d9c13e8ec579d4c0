import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, basic, startServer, type TestServer } from "../support/server.js";
import {
  PASSWORD,
  REDIRECT,
  USER,
  admin,
  cookieOf,
  createClient,
  field,
  form,
  pkce,
  seed,
  type TestClient,
} from "./support.js";

/**
 * Findings of the security review of the authorization server, each pinned by a test over real HTTP on
 * SQLite and PostgreSQL.
 */
describe.each(DATABASES)("OAuth review findings (%s)", (database) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ database });
    await seed(server);
  });
  afterAll(async () => server?.close());

  const codeClient = (fields: Record<string, unknown> = {}): Promise<TestClient> =>
    createClient(server, {
      type: "confidential",
      redirectUris: [REDIRECT],
      grantTypes: ["authorization_code", "refresh_token"],
      scopes: ["math", "strings"],
      ...fields,
    });

  function authorizeUrl(clientId: string, params: Record<string, string> = {}): string {
    const url = new URL(`${server.url}/oauth2/authorize`);
    for (const [name, value] of Object.entries({
      response_type: "code",
      client_id: clientId,
      redirect_uri: REDIRECT,
      scope: "math",
      state: "st-1",
      ...params,
    }))
      url.searchParams.set(name, value);
    return url.href;
  }

  /** The approval page reached with Basic credentials: its form fields and the browser cookie. */
  async function approvalPage(clientId: string, params: Record<string, string> = {}, user = USER) {
    const response = await fetch(authorizeUrl(clientId, params), {
      headers: { accept: "text/html", authorization: basic(user, user === USER ? PASSWORD : "pw-123456789") },
    });
    expect(response.status).toBe(200);
    const page = await response.text();
    return { cookie: cookieOf(response), ticket: field(page, "ticket"), csrf: field(page, "csrf_token") };
  }

  async function approve(page: { cookie: string; ticket: string; csrf: string }, scopes = ["math"]) {
    const body = new URLSearchParams({ ticket: page.ticket, csrf_token: page.csrf, decision: "approve" });
    for (const scope of scopes) body.append("scope", scope);
    return fetch(`${server.url}/oauth2/authorize`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: page.cookie, "content-type": "application/x-www-form-urlencoded" },
      body,
    });
  }

  /** A code for `client` (with PKCE), approved by `user`. */
  async function code(client: TestClient, user = USER) {
    const { verifier, challenge } = await pkce();
    const page = await approvalPage(
      client.clientId,
      { code_challenge: challenge, code_challenge_method: "S256", scope: "math" },
      user,
    );
    const response = await approve(page);
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get("location")!);
    return { code: location.searchParams.get("code")!, verifier };
  }

  const exchange = (client: TestClient, c: { code: string; verifier: string }) =>
    form(
      `${server.url}/oauth2/token`,
      { grant_type: "authorization_code", code: c.code, redirect_uri: REDIRECT, code_verifier: c.verifier },
      { authorization: basic(client.clientId, client.clientSecret!) },
    );

  const introspect = (caller: TestClient, token: string) =>
    form(
      `${server.url}/oauth2/introspect`,
      { token },
      { authorization: basic(caller.clientId, caller.clientSecret!) },
    );

  it("RFC 6749 §4.1.2: parallel exchanges of one code: exactly one wins, and the replay revokes its tokens", async () => {
    const client = await codeClient();
    const issued = await code(client);
    const answers = await Promise.all(Array.from({ length: 20 }, () => exchange(client, issued)));
    const winners = answers.filter((a) => a.status === 200);
    expect(winners).toHaveLength(1);
    for (const loser of answers.filter((a) => a.status !== 200)) {
      expect(loser.status).toBe(400);
      expect(loser.body.error).toBe("invalid_grant");
    }
    // However the exchanges interleave, the replays revoke every token issued from the code.
    const winner = winners[0]!.body as { access_token: string; refresh_token: string };
    expect((await introspect(client, winner.access_token)).body).toEqual({ active: false });
    expect((await introspect(client, winner.refresh_token)).body).toEqual({ active: false });
  });

  it("rotates the browser cookie at sign-in (session fixation): the pre-login cookie cannot approve", async () => {
    const client = await codeClient();
    const { challenge } = await pkce();
    const first = await fetch(
      authorizeUrl(client.clientId, { code_challenge: challenge, code_challenge_method: "S256" }),
      {
        headers: { accept: "text/html" },
      },
    );
    const before = cookieOf(first);
    const loginPage = await first.text();
    const login = await fetch(`${server.url}/oauth2/authorize`, {
      method: "POST",
      headers: { cookie: before, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        ticket: field(loginPage, "ticket"),
        csrf_token: field(loginPage, "csrf_token"),
        username: USER,
        password: PASSWORD,
      }),
    });
    expect(login.status).toBe(200);
    const after = cookieOf(login);
    expect(after).not.toBe(before);
    const page = await login.text();
    const fields = { ticket: field(page, "ticket"), csrf: field(page, "csrf_token") };
    const fixated = await approve({ ...fields, cookie: before });
    expect(fixated.status).toBe(400);
    expect(fixated.headers.get("location")).toBeNull();
    expect((await approve({ ...fields, cookie: after })).status).toBe(303);

    // Basic credentials on the request sign in too: a cookie the browser already had is replaced.
    const basicSignIn = await fetch(
      authorizeUrl(client.clientId, { code_challenge: challenge, code_challenge_method: "S256" }),
      {
        headers: { accept: "text/html", cookie: after, authorization: basic(USER, PASSWORD) },
      },
    );
    expect(basicSignIn.status).toBe(200);
    expect(cookieOf(basicSignIn)).not.toBe(after);
  });

  it("answers prompt=none with login_required, redirected with state and iss (no session is kept)", async () => {
    const client = await codeClient();
    const { challenge } = await pkce();
    const response = await fetch(
      authorizeUrl(client.clientId, {
        prompt: "none",
        code_challenge: challenge,
        code_challenge_method: "S256",
      }),
      { redirect: "manual" },
    );
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get("location")!);
    expect(location.origin + location.pathname).toBe(REDIRECT);
    expect(location.searchParams.get("error")).toBe("login_required");
    expect(location.searchParams.get("state")).toBe("st-1");
    expect(location.searchParams.get("iss")).toBe(server.url);
  });

  it("answers a response_mode other than query with invalid_request, redirected; query is accepted", async () => {
    const client = await codeClient();
    const { challenge } = await pkce();
    const pkceParams = { code_challenge: challenge, code_challenge_method: "S256" };
    for (const mode of ["fragment", "form_post", "jwt"]) {
      const response = await fetch(authorizeUrl(client.clientId, { response_mode: mode, ...pkceParams }), {
        redirect: "manual",
      });
      expect(response.status).toBe(302);
      const location = new URL(response.headers.get("location")!);
      expect(location.searchParams.get("error")).toBe("invalid_request");
      expect(location.searchParams.get("iss")).toBe(server.url);
    }
    const query = await fetch(authorizeUrl(client.clientId, { response_mode: "query", ...pkceParams }), {
      headers: { accept: "text/html" },
    });
    expect(query.status).toBe(200);
  });

  it("re-checks the redirect URI at approval: one unregistered since the request gets no redirect", async () => {
    const client = await codeClient({ redirectUris: [REDIRECT, "https://other.example.com/cb"] });
    const { challenge } = await pkce();
    const page = await approvalPage(client.clientId, {
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const updated = await admin(server, "PUT", `/oauth/clients/${client.clientId}`, {
      redirectUris: ["https://other.example.com/cb"],
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    const response = await approve(page);
    expect(response.status).toBe(400);
    expect(response.headers.get("location")).toBeNull();
  });

  it("introspection policy: access tokens for any confidential client, refresh tokens only for their own", async () => {
    const client = await codeClient();
    const tokens = (await exchange(client, await code(client))).body as {
      access_token: string;
      refresh_token: string;
    };
    const resourceServer = await createClient(server, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: USER,
    });
    expect((await introspect(resourceServer, tokens.access_token)).body.active).toBe(true);
    expect((await introspect(resourceServer, tokens.refresh_token)).body).toEqual({ active: false });
    expect((await introspect(client, tokens.refresh_token)).body).toMatchObject({
      active: true,
      token_type: "refresh_token",
    });
  });

  it("stops the tokens of a deleted user: introspection inactive, refresh refused", async () => {
    const user = `gone-${Math.random().toString(36).slice(2, 8)}`;
    expect(
      (await admin(server, "POST", "/users", { username: user, password: "pw-123456789", groups: [] }))
        .status,
    ).toBe(201);
    const client = await codeClient();
    const tokens = (await exchange(client, await code(client, user))).body as {
      access_token: string;
      refresh_token: string;
    };
    expect((await introspect(client, tokens.access_token)).body.active).toBe(true);
    expect((await admin(server, "DELETE", `/users/${user}`)).status).toBeLessThan(300);
    expect((await introspect(client, tokens.access_token)).body).toEqual({ active: false });
    const refreshed = await form(
      `${server.url}/oauth2/token`,
      { grant_type: "refresh_token", refresh_token: tokens.refresh_token },
      { authorization: basic(client.clientId, client.clientSecret!) },
    );
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe("invalid_grant");
    // A user re-created under the same name does not bring the old tokens back.
    expect(
      (await admin(server, "POST", "/users", { username: user, password: "pw-123456789", groups: [] }))
        .status,
    ).toBe(201);
    expect((await introspect(client, tokens.access_token)).body).toEqual({ active: false });
  });

  it("RFC 7009 §2.1: another client's token: a public caller gets 200 and nothing is revoked", async () => {
    const client = await codeClient();
    const tokens = (await exchange(client, await code(client))).body as { access_token: string };
    const pub = await codeClient({ type: "public" });
    const answer = await form(`${server.url}/oauth2/revoke`, {
      client_id: pub.clientId,
      token: tokens.access_token,
    });
    expect(answer.status).toBe(200);
    expect((await introspect(client, tokens.access_token)).body.active).toBe(true);
  });

  it("answers NUL characters anywhere (form, query, path, JSON, Basic) with 4xx OAuth errors, never 500", async () => {
    const client = await codeClient();
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
        body,
      });
    const answers = [
      await post("/oauth2/token", "grant_type=client_credentials&client_id=a%00b"),
      await post("/oauth2/revoke", "client_id=a%00&token=x"),
      await post("/oauth2/introspect", "token=a%00", {
        authorization: basic(client.clientId, client.clientSecret!),
      }),
      await post("/oauth2/authorize", "ticket=a%00&username=a%00"),
      await post("/invoke/pub.oauth/getToken", "x=1", {}),
      await fetch(`${server.url}/oauth2/authorize?client_id=a%00b&response_type=code`, {
        redirect: "manual",
      }),
      await fetch(`${server.url}/oauth2/register/a%00b`, { headers: { authorization: "Bearer x" } }),
      await fetch(`${server.url}/invoke/pub.oauth/getToken`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ grant_type: "client_credentials", client_id: "a\u0000b" }),
      }),
      await post("/oauth2/token", "grant_type=client_credentials", {
        authorization: `Basic ${Buffer.from("a%00b:secret").toString("base64")}`,
      }),
    ];
    for (const answer of answers) {
      expect(answer.status, answer.url).toBeGreaterThanOrEqual(400);
      expect(answer.status, answer.url).toBeLessThan(500);
      expect(typeof ((await answer.json()) as { error: unknown }).error).toBe("string");
    }
  });

  it("answers NUL characters in the admin API (path, query, JSON) with 400 JSON, never 500", async () => {
    const answers = [
      await admin(server, "GET", "/oauth/clients/a%00b"),
      await admin(server, "GET", "/oauth/tokens?user=a%00"),
      await admin(server, "POST", "/oauth/clients", {
        clientName: "x\u0000",
        type: "confidential",
        grantTypes: ["authorization_code"],
        redirectUris: [REDIRECT],
      }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(typeof answer.body.error).toBe("string");
    }
  });
});
