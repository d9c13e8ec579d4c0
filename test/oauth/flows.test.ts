import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, startServer, type TestServer } from "../support/server.js";
import {
  REDIRECT,
  admin,
  authorizationUrl,
  browse,
  createClient,
  discover,
  form,
  insecure,
  invoke,
  pkce,
  seed,
  type Json,
  type TestClient,
} from "./support.js";

/**
 * The authorization server driven end to end by oauth4webapi (a strict client written elsewhere) over real
 * HTTP, on SQLite and on PostgreSQL.
 */
describe.each(DATABASES)("OAuth flows (%s)", (database) => {
  let server: TestServer;
  let as: oauth.AuthorizationServer;

  beforeAll(async () => {
    server = await startServer({ database });
    await seed(server);
    as = await discover(server);
  });
  afterAll(async () => server?.close());

  async function codeClient(fields: Record<string, unknown> = {}): Promise<TestClient> {
    return createClient(server, {
      type: "confidential",
      redirectUris: [REDIRECT],
      grantTypes: ["authorization_code", "refresh_token"],
      scopes: ["math", "strings"],
      ...fields,
    });
  }

  /** Code + PKCE through the login and approval pages; answers the token response. */
  async function codeFlow(
    client: TestClient,
    options: Parameters<typeof browse>[1] = {},
    scope = "math strings",
  ) {
    const { verifier, challenge } = await pkce();
    const state = oauth.generateRandomState();
    const url = await authorizationUrl(as, client.clientId, {
      redirect_uri: REDIRECT,
      scope,
      state,
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const callback = await browse(url, options);
    const c: oauth.Client = { client_id: client.clientId };
    const params = oauth.validateAuthResponse(as, c, callback, state);
    const auth = client.clientSecret ? oauth.ClientSecretBasic(client.clientSecret) : oauth.None();
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      c,
      auth,
      params,
      REDIRECT,
      verifier,
      insecure,
    );
    return {
      tokens: await oauth.processAuthorizationCodeResponse(as, c, response),
      params,
      verifier,
      auth,
      c,
    };
  }

  it("publishes RFC 8414 metadata whose issuer is the public URL", () => {
    expect(as.issuer).toBe(server.url);
    expect(as.code_challenge_methods_supported).toEqual(["S256"]);
    expect(as.authorization_response_iss_parameter_supported).toBe(true);
    expect(as.scopes_supported).toEqual(expect.arrayContaining(["math", "strings"]));
  });

  it("issues client_credentials tokens with client_secret_basic and client_secret_post", async () => {
    const client = await createClient(server, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "alice",
    });
    const c: oauth.Client = { client_id: client.clientId };
    for (const auth of [
      oauth.ClientSecretBasic(client.clientSecret!),
      oauth.ClientSecretPost(client.clientSecret!),
    ]) {
      const response = await oauth.clientCredentialsGrantRequest(as, c, auth, { scope: "math" }, insecure);
      expect(response.headers.get("cache-control")).toBe("no-store");
      const tokens = await oauth.processClientCredentialsResponse(as, c, response);
      expect(tokens.token_type).toBe("bearer");
      expect(tokens.scope).toBe("math");
      expect(tokens.expires_in).toBe(3600);
      expect(tokens.refresh_token).toBeUndefined();
      expect(tokens.access_token.length).toBeGreaterThanOrEqual(43);
      const answer = await invoke(server, "pub.math/randomDouble", tokens.access_token);
      expect(answer.status).toBe(200);
    }
    // A scope the client may not ask for, and one that does not exist, are invalid_scope.
    for (const scope of ["strings", "nonexistent"]) {
      const response = await oauth.clientCredentialsGrantRequest(
        as,
        c,
        oauth.ClientSecretBasic(client.clientSecret!),
        { scope },
        insecure,
      );
      await expect(oauth.processClientCredentialsResponse(as, c, response)).rejects.toMatchObject({
        error: "invalid_scope",
      });
    }
    // A wrong secret is invalid_client, 401, with a Basic challenge.
    const wrong = await oauth.clientCredentialsGrantRequest(
      as,
      c,
      oauth.ClientSecretBasic("wrong"),
      {},
      insecure,
    );
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
    expect(((await wrong.json()) as Json).error).toBe("invalid_client");
  });

  it("runs code + PKCE with the login form and approval, then refreshes with rotation", async () => {
    const client = await codeClient();
    const { tokens, c, auth } = await codeFlow(client);
    expect(tokens.scope).toBe("math strings");
    expect(tokens.refresh_token).toBeDefined();
    expect((await invoke(server, "pub.math/randomDouble", tokens.access_token)).status).toBe(200);

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      c,
      await oauth.refreshTokenGrantRequest(as, c, auth, tokens.refresh_token!, {
        ...insecure,
        additionalParameters: { scope: "math" },
      }),
    );
    expect(refreshed.scope).toBe("math");
    expect(refreshed.refresh_token).toBeDefined();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    // Scope may only narrow.
    const wider = await oauth.refreshTokenGrantRequest(as, c, auth, refreshed.refresh_token!, {
      ...insecure,
      additionalParameters: { scope: "math other" },
    });
    await expect(oauth.processRefreshTokenResponse(as, c, wider)).rejects.toMatchObject({
      error: "invalid_scope",
    });
  });

  it("signs in with Basic credentials on the authorization request, and lets the owner narrow the scopes", async () => {
    const client = await codeClient();
    const { tokens } = await codeFlow(client, { basicAuth: true, keep: ["strings"] });
    expect(tokens.scope).toBe("strings");
    expect((await invoke(server, "pub.math/randomDouble", tokens.access_token)).status).toBe(403);
  });

  it("detects refresh token reuse after the grace window and revokes the whole family", async () => {
    expect((await admin(server, "PUT", "/oauth/settings", { refreshGraceSeconds: 0 })).status).toBe(200);
    try {
      const client = await codeClient();
      const { tokens, c, auth } = await codeFlow(client);
      const first = await oauth.processRefreshTokenResponse(
        as,
        c,
        await oauth.refreshTokenGrantRequest(as, c, auth, tokens.refresh_token!, insecure),
      );
      await new Promise((r) => setTimeout(r, 5));
      const reuse = await oauth.refreshTokenGrantRequest(as, c, auth, tokens.refresh_token!, insecure);
      await expect(oauth.processRefreshTokenResponse(as, c, reuse)).rejects.toMatchObject({
        error: "invalid_grant",
      });
      // The family is gone: the rotated refresh token and every access token.
      const after = await oauth.refreshTokenGrantRequest(as, c, auth, first.refresh_token!, insecure);
      await expect(oauth.processRefreshTokenResponse(as, c, after)).rejects.toMatchObject({
        error: "invalid_grant",
      });
      expect((await invoke(server, "pub.math/randomDouble", first.access_token)).status).toBe(401);
      expect((await invoke(server, "pub.math/randomDouble", tokens.access_token)).status).toBe(401);
    } finally {
      await admin(server, "PUT", "/oauth/settings", { refreshGraceSeconds: 10 });
    }
  });

  it("lets a concurrent retry of the same refresh succeed inside the grace window", async () => {
    const client = await codeClient();
    const { tokens, c, auth } = await codeFlow(client);
    const [a, b] = await Promise.all([
      oauth.refreshTokenGrantRequest(as, c, auth, tokens.refresh_token!, insecure),
      oauth.refreshTokenGrantRequest(as, c, auth, tokens.refresh_token!, insecure),
    ]);
    const [ta, tb] = [
      await oauth.processRefreshTokenResponse(as, c, a),
      await oauth.processRefreshTokenResponse(as, c, b),
    ];
    expect(ta.access_token).not.toBe(tb.access_token);
    expect((await invoke(server, "pub.math/randomDouble", tb.access_token)).status).toBe(200);
  });

  it("honours the refresh limit: 1 allows one refresh, 0 gives no refresh token", async () => {
    const once = await codeClient({ refreshLimit: 1 });
    const { tokens, c, auth } = await codeFlow(once);
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      c,
      await oauth.refreshTokenGrantRequest(as, c, auth, tokens.refresh_token!, insecure),
    );
    expect(refreshed.refresh_token).toBeUndefined();
    const none = await codeClient({ refreshLimit: 0 });
    expect((await codeFlow(none)).tokens.refresh_token).toBeUndefined();
  });

  it("refuses a replayed code and revokes the tokens issued from it", async () => {
    const client = await codeClient();
    const { tokens, params, verifier, auth, c } = await codeFlow(client);
    const replay = await oauth.authorizationCodeGrantRequest(
      as,
      c,
      auth,
      params,
      REDIRECT,
      verifier,
      insecure,
    );
    await expect(oauth.processAuthorizationCodeResponse(as, c, replay)).rejects.toMatchObject({
      error: "invalid_grant",
    });
    expect((await invoke(server, "pub.math/randomDouble", tokens.access_token)).status).toBe(401);
    const refresh = await oauth.refreshTokenGrantRequest(as, c, auth, tokens.refresh_token!, insecure);
    await expect(oauth.processRefreshTokenResponse(as, c, refresh)).rejects.toMatchObject({
      error: "invalid_grant",
    });
  });

  it("refuses a PKCE mismatch, a downgrade, and a missing challenge from a public client", async () => {
    const client = await codeClient();
    const { challenge } = await pkce();
    const state = oauth.generateRandomState();
    const url = await authorizationUrl(as, client.clientId, {
      redirect_uri: REDIRECT,
      scope: "math",
      state,
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const c: oauth.Client = { client_id: client.clientId };
    const params = oauth.validateAuthResponse(as, c, await browse(url), state);
    const wrong = await oauth.authorizationCodeGrantRequest(
      as,
      c,
      oauth.ClientSecretBasic(client.clientSecret!),
      params,
      REDIRECT,
      oauth.generateRandomCodeVerifier(),
      insecure,
    );
    await expect(oauth.processAuthorizationCodeResponse(as, c, wrong)).rejects.toMatchObject({
      error: "invalid_grant",
    });

    // A code issued without a challenge cannot be redeemed with a verifier (RFC 9700 §2.1.1).
    const plainState = oauth.generateRandomState();
    const noPkce = await authorizationUrl(as, client.clientId, {
      redirect_uri: REDIRECT,
      scope: "math",
      state: plainState,
    });
    const p2 = oauth.validateAuthResponse(as, c, await browse(noPkce), plainState);
    const downgrade = await oauth.authorizationCodeGrantRequest(
      as,
      c,
      oauth.ClientSecretBasic(client.clientSecret!),
      p2,
      REDIRECT,
      oauth.generateRandomCodeVerifier(),
      insecure,
    );
    await expect(oauth.processAuthorizationCodeResponse(as, c, downgrade)).rejects.toMatchObject({
      error: "invalid_grant",
    });

    const publicClient = await codeClient({ type: "public" });
    const missing = await authorizationUrl(as, publicClient.clientId, {
      redirect_uri: REDIRECT,
      scope: "math",
      state: "s1",
    });
    const response = await fetch(missing, { redirect: "manual" });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get("location")!);
    expect(location.origin + location.pathname).toBe(REDIRECT);
    expect(location.searchParams.get("error")).toBe("invalid_request");
    expect(location.searchParams.get("state")).toBe("s1");
    expect(location.searchParams.get("iss")).toBe(server.url);
  });

  it("runs a public client with PKCE and no secret", async () => {
    const client = await codeClient({ type: "public" });
    const { tokens } = await codeFlow(client);
    expect((await invoke(server, "pub.math/randomDouble", tokens.access_token)).status).toBe(200);
  });

  it("redirects a denial as access_denied with state and iss", async () => {
    const client = await codeClient();
    const state = oauth.generateRandomState();
    const { challenge } = await pkce();
    const url = await authorizationUrl(as, client.clientId, {
      redirect_uri: REDIRECT,
      scope: "math",
      state,
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const callback = await browse(url, { decision: "deny" });
    expect(callback.searchParams.get("error")).toBe("access_denied");
    expect(() => oauth.validateAuthResponse(as, { client_id: client.clientId }, callback, state)).toThrow(
      expect.objectContaining({ error: "access_denied" }),
    );
  });

  it("never redirects to an unregistered redirect URI: an error page, 400", async () => {
    const client = await codeClient();
    for (const redirect of ["https://evil.example.com/callback", `${REDIRECT}/more`, `${REDIRECT}?x=1`]) {
      const url = await authorizationUrl(as, client.clientId, { redirect_uri: redirect, scope: "math" });
      const response = await fetch(url, { redirect: "manual", headers: { accept: "text/html" } });
      expect(response.status).toBe(400);
      expect(response.headers.get("location")).toBeNull();
      expect(response.headers.get("content-type")).toContain("text/html");
      expect(await response.text()).toContain("redirect_uri is not registered");
    }
    const unknown = await authorizationUrl(as, "no-such-client", { redirect_uri: REDIRECT });
    const response = await fetch(unknown, { redirect: "manual" });
    expect(response.status).toBe(400);
    expect(((await response.json()) as Json).error).toBe("invalid_request");
  });

  it("answers an unknown scope at the authorization endpoint with invalid_scope", async () => {
    const client = await codeClient();
    const { challenge } = await pkce();
    const url = await authorizationUrl(as, client.clientId, {
      redirect_uri: REDIRECT,
      scope: "math nope",
      state: "x",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const response = await fetch(url, { redirect: "manual" });
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get("location")!).searchParams.get("error")).toBe("invalid_scope");
  });

  it("refuses an approval posted without the browser's cookie (CSRF)", async () => {
    const client = await codeClient();
    const { challenge } = await pkce();
    const url = await authorizationUrl(as, client.clientId, {
      redirect_uri: REDIRECT,
      scope: "math",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const page = await (
      await fetch(url, {
        headers: { authorization: `Basic ${Buffer.from("alice:alice-password-1").toString("base64")}` },
      })
    ).text();
    const ticket = /name="ticket" value="([^"]*)"/.exec(page)![1]!;
    const csrf = /name="csrf_token" value="([^"]*)"/.exec(page)![1]!;
    const forged = await form(`${server.url}/oauth2/authorize`, {
      ticket,
      csrf_token: csrf,
      scope: "math",
      decision: "approve",
    });
    expect(forged.status).toBe(400);
    expect(forged.headers.get("location")).toBeNull();
    expect(forged.body.error).toBe("invalid_request");
  });

  it("introspects: active tokens with their claims, anything else exactly {active:false}", async () => {
    const rs = await createClient(server, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "alice",
    });
    const c: oauth.Client = { client_id: rs.clientId };
    const auth = oauth.ClientSecretBasic(rs.clientSecret!);
    const issued = await oauth.processClientCredentialsResponse(
      as,
      c,
      await oauth.clientCredentialsGrantRequest(as, c, auth, {}, insecure),
    );
    const response = await oauth.introspectionRequest(as, c, auth, issued.access_token, insecure);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const claims = await oauth.processIntrospectionResponse(as, c, response);
    expect(claims).toMatchObject({
      active: true,
      scope: "math",
      client_id: rs.clientId,
      username: "alice",
      sub: "alice",
      token_type: "Bearer",
      iss: server.url,
    });
    expect(typeof claims.exp).toBe("number");
    expect(typeof claims.iat).toBe("number");
    expect(typeof claims.jti).toBe("string");

    for (const token of ["unknown-token-value", issued.access_token + "x"]) {
      const r = await oauth.introspectionRequest(
        as,
        c,
        oauth.ClientSecretPost(rs.clientSecret!),
        token,
        insecure,
      );
      expect((await r.json()) as Json as Json).toEqual({ active: false });
    }
    // A public client may not introspect.
    const pub = await codeClient({ type: "public" });
    const refused = await form(`${server.url}/oauth2/introspect`, {
      client_id: pub.clientId,
      token: issued.access_token,
    });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe("invalid_client");
  });

  it("revokes: a refresh token takes its access tokens along; only the client's own tokens; unknown is 200", async () => {
    const client = await codeClient();
    const { tokens, c, auth } = await codeFlow(client);
    const other = await codeClient();
    const foreign = await oauth.revocationRequest(
      as,
      { client_id: other.clientId },
      oauth.ClientSecretBasic(other.clientSecret!),
      tokens.refresh_token!,
      insecure,
    );
    expect(foreign.status).toBe(400);
    expect((await invoke(server, "pub.math/randomDouble", tokens.access_token)).status).toBe(200);

    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, c, auth, tokens.refresh_token!, {
        ...insecure,
        additionalParameters: { token_type_hint: "access_token" },
      }),
    );
    expect((await invoke(server, "pub.math/randomDouble", tokens.access_token)).status).toBe(401);
    const unknown = await oauth.revocationRequest(as, c, auth, "never-issued", insecure);
    expect(unknown.status).toBe(200);
  });

  it("registers clients dynamically (RFC 7591) and manages them (RFC 7592)", async () => {
    const denied = await oauth.dynamicClientRegistrationRequest(as, { redirect_uris: [REDIRECT] }, insecure);
    expect(denied.status).toBe(401);
    expect(denied.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);

    const iat = await admin(server, "POST", "/oauth/initial-access-tokens", {});
    expect(iat.status).toBe(201);
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        {
          redirect_uris: [REDIRECT],
          client_name: "Registered",
          scope: "math",
          grant_types: ["authorization_code", "refresh_token"],
        },
        { ...insecure, initialAccessToken: iat.body.token },
      ),
    );
    expect(registered.client_id).toBeDefined();
    expect(typeof registered.client_secret).toBe("string");
    const regToken = registered.registration_access_token as string;
    const regUri = registered.registration_client_uri as string;

    // The initial access token is single-use.
    const again = await oauth.dynamicClientRegistrationRequest(
      as,
      { redirect_uris: [REDIRECT] },
      { ...insecure, initialAccessToken: iat.body.token },
    );
    expect(again.status).toBe(401);
    expect(((await again.json()) as Json).error).toBe("invalid_token");

    // The registered client works for code + PKCE.
    const { tokens } = await codeFlow(
      { clientId: registered.client_id, clientSecret: registered.client_secret as string },
      {},
      "math",
    );
    expect(tokens.scope).toBe("math");

    const read = await fetch(regUri, { headers: { authorization: `Bearer ${regToken}` } });
    expect(read.status).toBe(200);
    expect(((await read.json()) as Json).client_name).toBe("Registered");
    const wrongToken = await fetch(regUri, { headers: { authorization: "Bearer wrong" } });
    expect(wrongToken.status).toBe(401);
    const update = await fetch(regUri, {
      method: "PUT",
      headers: { authorization: `Bearer ${regToken}`, "content-type": "application/json" },
      body: JSON.stringify({
        client_id: registered.client_id,
        client_name: "Renamed",
        redirect_uris: [REDIRECT],
        scope: "math strings",
      }),
    });
    expect(update.status).toBe(200);
    expect(((await update.json()) as Json).scope).toBe("math strings");
    const badUri = await fetch(regUri, {
      method: "PUT",
      headers: { authorization: `Bearer ${regToken}`, "content-type": "application/json" },
      body: JSON.stringify({
        client_id: registered.client_id,
        redirect_uris: ["http://evil.example.com/cb"],
      }),
    });
    expect(badUri.status).toBe(400);
    expect(((await badUri.json()) as Json).error).toBe("invalid_redirect_uri");
    const removed = await fetch(regUri, {
      method: "DELETE",
      headers: { authorization: `Bearer ${regToken}` },
    });
    expect(removed.status).toBe(204);
    expect((await invoke(server, "pub.math/randomDouble", tokens.access_token)).status).toBe(401);
    expect((await admin(server, "GET", `/oauth/clients/${registered.client_id}`)).status).toBe(404);
  });

  it("serves the same handlers under the Integration Server names", async () => {
    const client = await createClient(server, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "alice",
    });
    const basicAuth = {
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64")}`,
    };
    const issued = await form(
      `${server.url}/invoke/pub.oauth/getToken`,
      { grant_type: "client_credentials" },
      basicAuth,
    );
    expect(issued.status).toBe(200);
    expect(issued.headers.get("cache-control")).toBe("no-store");
    const token = issued.body.access_token as string;
    // JSON bodies work on the IS names, as on /invoke.
    const introspected = await fetch(`${server.url}/invoke/pub.oauth/introspectToken`, {
      method: "POST",
      headers: { ...basicAuth, "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
    expect((await introspected.json()) as Json as Json).toMatchObject({
      active: true,
      client_id: client.clientId,
    });
    const revoked = await form(`${server.url}/invoke/pub.oauth/revokeToken`, { token }, basicAuth);
    expect(revoked.status).toBe(200);
    expect((await invoke(server, "pub.math/randomDouble", token)).status).toBe(401);

    const codeC = await codeClient();
    const { challenge } = await pkce();
    const url = new URL(`${server.url}/invoke/pub.oauth/authorize`);
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id: codeC.clientId,
      redirect_uri: REDIRECT,
      scope: "math",
      state: "st",
      code_challenge: challenge,
      code_challenge_method: "S256",
    }))
      url.searchParams.set(k, v);
    const callback = await browse(url);
    expect(callback.searchParams.get("code")).toBeTruthy();
    expect(callback.searchParams.get("iss")).toBe(server.url);

    const sweep = await fetch(`${server.url}/invoke/pub.oauth/removeExpiredAccessTokens`, {
      method: "POST",
      headers: { authorization: server.adminAuth },
    });
    expect(sweep.status).toBe(200);
    expect(typeof ((await sweep.json()) as Json).removed).toBe("number");
    const notAdmin = await fetch(`${server.url}/invoke/pub.oauth/removeExpiredAccessTokens`, {
      headers: { authorization: `Basic ${Buffer.from("alice:alice-password-1").toString("base64")}` },
    });
    expect(notAdmin.status).toBe(403);
  });

  it("applies RFC 6750 on /invoke: challenges, invalid_token, insufficient_scope, immediate revocation", async () => {
    const client = await createClient(server, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "alice",
    });
    const c: oauth.Client = { client_id: client.clientId };
    const auth = oauth.ClientSecretBasic(client.clientSecret!);
    const { access_token: token } = await oauth.processClientCredentialsResponse(
      as,
      c,
      await oauth.clientCredentialsGrantRequest(as, c, auth, {}, insecure),
    );
    // ACL Administrators on a math service so that the anonymous call needs credentials.
    expect(
      (await admin(server, "PUT", "/services/pub.math:addInts/acl", { acl: "Administrators" })).status,
    ).toBe(200);
    const anonymous = await invoke(server, "pub.math/addInts");
    expect(anonymous.status).toBe(401);
    const challenges = anonymous.headers.get("www-authenticate")!;
    expect(challenges).toContain('Bearer realm="Conduit"');
    expect(challenges).not.toContain("error=");

    const bad = await invoke(server, "pub.math/randomDouble", "not-a-real-token");
    expect(bad.status).toBe(401);
    expect(bad.headers.get("www-authenticate")).toMatch(/^Bearer realm="Conduit", error="invalid_token"/);

    const narrow = await invoke(server, "pub.string/length", token);
    expect(narrow.status).toBe(403);
    const challenge = narrow.headers.get("www-authenticate")!;
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain('scope="strings"');

    // Scope covers pub.math, but alice is not in Administrators: the ACL still applies.
    expect((await invoke(server, "pub.math/addInts", token)).status).toBe(403);

    expect((await invoke(server, "pub.math/randomDouble", token)).status).toBe(200);
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, c, auth, token, insecure));
    const revoked = await invoke(server, "pub.math/randomDouble", token);
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("stops a disabled client everywhere, and its tokens with it", async () => {
    const client = await createClient(server, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "alice",
    });
    const c: oauth.Client = { client_id: client.clientId };
    const auth = oauth.ClientSecretBasic(client.clientSecret!);
    const { access_token: token } = await oauth.processClientCredentialsResponse(
      as,
      c,
      await oauth.clientCredentialsGrantRequest(as, c, auth, {}, insecure),
    );
    expect((await admin(server, "PUT", `/oauth/clients/${client.clientId}`, { enabled: false })).status).toBe(
      200,
    );
    expect((await invoke(server, "pub.math/randomDouble", token)).status).toBe(401);
    const refused = await oauth.clientCredentialsGrantRequest(as, c, auth, {}, insecure);
    expect(refused.status).toBe(401);
    expect((await admin(server, "PUT", `/oauth/clients/${client.clientId}`, { enabled: true })).status).toBe(
      200,
    );
    expect((await invoke(server, "pub.math/randomDouble", token)).status).toBe(200);
  });

  it("rotates client secrets with an overlap window", async () => {
    const client = await createClient(server, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "alice",
    });
    const c: oauth.Client = { client_id: client.clientId };
    const rotated = await admin(server, "POST", `/oauth/clients/${client.clientId}/secret`, {});
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.clientSecret as string;
    expect(fresh).not.toBe(client.clientSecret);
    for (const secret of [client.clientSecret!, fresh]) {
      const response = await oauth.clientCredentialsGrantRequest(
        as,
        c,
        oauth.ClientSecretPost(secret),
        {},
        insecure,
      );
      expect(response.status).toBe(200);
    }
    const noOverlap = await admin(server, "POST", `/oauth/clients/${client.clientId}/secret`, {
      overlapSeconds: 0,
    });
    const stale = await oauth.clientCredentialsGrantRequest(
      as,
      c,
      oauth.ClientSecretPost(fresh),
      {},
      insecure,
    );
    expect(stale.status).toBe(401);
    const current = await oauth.clientCredentialsGrantRequest(
      as,
      c,
      oauth.ClientSecretPost(noOverlap.body.clientSecret),
      {},
      insecure,
    );
    expect(current.status).toBe(200);
  });
});
