import { readFileSync } from "node:fs";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logFile } from "../../src/kernel/logger.js";
import { launchBrowser, screenshots, signIn, type TestBrowser } from "../support/browser.js";
import { DATABASES, startServer, type TestServer } from "../support/server.js";
import { admin, discover, insecure, invoke, REDIRECT, seed, USER, type Json } from "./support.js";

/**
 * Issue 12, part 2: an initial access token carries a policy (run-as user, scopes, grant types, number of
 * registrations) so that RFC 7591 registers machine clients that use client_credentials.
 */
describe.each(DATABASES)("registration within an initial access token's policy (%s)", (database) => {
  let server: TestServer;
  let as: oauth.AuthorizationServer;
  beforeAll(async () => {
    server = await startServer({ database });
    await seed(server);
    as = await discover(server);
  });
  afterAll(async () => server.close());

  const createToken = (policy: Record<string, unknown>) =>
    admin(server, "POST", "/oauth/initial-access-tokens", policy);

  async function register(token: string, metadata: Record<string, unknown>): Promise<Response> {
    return fetch(`${server.url}/oauth2/register`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(metadata),
    });
  }

  const listed = async (id: string): Promise<Json> =>
    ((await admin(server, "GET", "/oauth/initial-access-tokens")).body as Json[]).find((t) => t.id === id);

  it("registers a machine client whose client_credentials token runs pub.math:randomDouble as the policy's user", async () => {
    const iat = await createToken({ runAsUser: USER, scopes: ["math"], grantTypes: ["client_credentials"] });
    expect(iat.status, JSON.stringify(iat.body)).toBe(201);
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        { grant_types: ["client_credentials"], client_name: `machine-${database}` },
        { ...insecure, initialAccessToken: iat.body.token },
      ),
    );
    expect(registered.grant_types).toEqual(["client_credentials"]);
    // No scope asked for: the policy's scopes.
    expect(registered.scope).toBe("math");
    expect((await admin(server, "GET", `/oauth/clients/${registered.client_id}`)).body).toMatchObject({
      runAsUser: USER,
      registered: true,
      grantTypes: ["client_credentials"],
    });

    const client: oauth.Client = { client_id: registered.client_id };
    const tokens = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(
        as,
        client,
        oauth.ClientSecretBasic(registered.client_secret as string),
        new URLSearchParams({ scope: "math" }),
        insecure,
      ),
    );
    expect(tokens.scope).toBe("math");
    const invoked = await invoke(server, "pub.math/randomDouble", tokens.access_token);
    expect(invoked.status).toBe(200);
    const { number } = (await invoked.json()) as Json;
    expect(number).toBeGreaterThanOrEqual(0);
    expect(number).toBeLessThan(1);
    const introspected = await fetch(`${server.url}/oauth2/introspect`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${registered.client_id}:${registered.client_secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ token: tokens.access_token }),
    });
    expect(((await introspected.json()) as Json).username).toBe(USER);

    // The audit log links the registration to the token (never the token's value).
    const log = readFileSync(logFile(server.dataDir), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Json);
    const entry = log.find((e) => e.event === "audit" && e.action === "oauth.client.register");
    expect(entry).toMatchObject({ target: registered.client_id, initialAccessToken: iat.body.id });
    expect(JSON.stringify(log)).not.toContain(iat.body.token);
  });

  it("refuses a registration beyond its policy, naming the scope or the grant", async () => {
    const iat = await createToken({ runAsUser: USER, scopes: ["math"], grantTypes: ["client_credentials"] });
    const scope = await register(iat.body.token, {
      grant_types: ["client_credentials"],
      scope: "math strings",
    });
    expect(scope.status).toBe(400);
    const scopeError = (await scope.json()) as Json;
    expect(scopeError.error).toBe("invalid_client_metadata");
    expect(scopeError.error_description).toMatch(/scope.*strings/);
    expect(scopeError.error_description).not.toMatch(/math/);

    const grant = await register(iat.body.token, {
      grant_types: ["client_credentials", "authorization_code"],
      redirect_uris: [REDIRECT],
    });
    expect(grant.status).toBe(400);
    const grantError = (await grant.json()) as Json;
    expect(grantError.error).toBe("invalid_client_metadata");
    expect(grantError.error_description).toMatch(/grant_types.*authorization_code/);
    expect(grantError.error_description).not.toMatch(/client_credentials/);

    // Refusals do not spend the token: it still registers within its policy.
    expect((await listed(iat.body.id)).usesLeft).toBe(1);
    const ok = await register(iat.body.token, { grant_types: ["client_credentials"], scope: "math" });
    expect(ok.status).toBe(201);
    const registered = (await ok.json()) as Json;

    // An RFC 7592 update stays within the policy too.
    const widen = await fetch(registered.registration_client_uri, {
      method: "PUT",
      headers: {
        authorization: `Bearer ${registered.registration_access_token}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({
        client_id: registered.client_id,
        grant_types: ["client_credentials"],
        scope: "math strings",
      }),
    });
    expect(widen.status).toBe(400);
    expect(((await widen.json()) as Json).error_description).toMatch(/scope.*strings/);
  });

  it("refuses client_credentials to a token without a policy, as before", async () => {
    const iat = await createToken({});
    expect(iat.status).toBe(201);
    const refused = await register(iat.body.token, { grant_types: ["client_credentials"] });
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as Json;
    expect(body.error).toBe("invalid_client_metadata");
    expect(body.error_description).toContain("client_credentials");
    expect(await listed(iat.body.id)).toMatchObject({
      runAsUser: null,
      scopes: null,
      grantTypes: ["authorization_code", "refresh_token"],
      maxUses: 1,
      usesLeft: 1,
    });
  });

  it("allows as many registrations as maxUses, then refuses", async () => {
    const iat = await createToken({ runAsUser: USER, scopes: ["math"], maxUses: 3 });
    expect(iat.status).toBe(201);
    for (let i = 0; i < 3; i++) {
      const ok = await register(iat.body.token, {
        grant_types: ["client_credentials"],
        client_name: `three-${i}`,
      });
      expect(ok.status, `registration ${i + 1}`).toBe(201);
      expect((await listed(iat.body.id)).usesLeft).toBe(2 - i);
    }
    const fourth = await register(iat.body.token, {
      grant_types: ["client_credentials"],
      client_name: "four",
    });
    expect(fourth.status).toBe(401);
    expect(((await fourth.json()) as Json).error).toBe("invalid_token");
  });

  it("gives the last use to exactly one of racing registrations", async () => {
    const iat = await createToken({ runAsUser: USER, scopes: ["math"], maxUses: 2 });
    expect((await register(iat.body.token, { grant_types: ["client_credentials"] })).status).toBe(201);
    const racers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        register(iat.body.token, { grant_types: ["client_credentials"], client_name: `racer-${i}` }),
      ),
    );
    const statuses = racers.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 401, 401, 401, 401, 401, 401, 401]);
    const view = await listed(iat.body.id);
    expect(view.usesLeft).toBe(0);
    const winner = (await racers.find((r) => r.status === 201)!.json()) as Json;
    expect(view.usedByClient).toBe(winner.client_id);
  });

  it("shows the policy and the uses left in the admin view, never the token value", async () => {
    const iat = await createToken({
      runAsUser: USER,
      scopes: ["math", "strings"],
      maxUses: 5,
      expiresIn: 600,
    });
    expect(iat.status).toBe(201);
    expect(Object.keys(iat.body).sort()).toEqual(["expiresAt", "id", "token"]);
    const all = await admin(server, "GET", "/oauth/initial-access-tokens");
    expect(JSON.stringify(all.body)).not.toContain(iat.body.token);
    const view = await listed(iat.body.id);
    expect(view).toMatchObject({
      runAsUser: USER,
      scopes: ["math", "strings"],
      grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
      maxUses: 5,
      usesLeft: 5,
      usedAt: null,
      usedByClient: null,
      expiresAt: iat.body.expiresAt,
    });
    expect(view).not.toHaveProperty("token");
    expect(view).not.toHaveProperty("digest");
  });

  it("refuses a policy naming an unknown run-as user, scope or grant, with 400 naming the field", async () => {
    const user = await createToken({ runAsUser: "nobody-here", grantTypes: ["client_credentials"] });
    expect(user.status).toBe(400);
    expect(user.body).toMatchObject({ field: "runAsUser" });
    expect(JSON.stringify(user.body)).toContain("nobody-here");

    const scope = await createToken({ runAsUser: USER, scopes: ["no-such-scope"] });
    expect(scope.status).toBe(400);
    expect(scope.body).toMatchObject({ field: "scopes" });

    const grant = await createToken({ runAsUser: USER, grantTypes: ["password"] });
    expect(grant.status).toBe(400);
    expect(grant.body).toMatchObject({ field: "grantTypes" });

    const machineWithoutUser = await createToken({ grantTypes: ["client_credentials"] });
    expect(machineWithoutUser.status).toBe(400);
    expect(machineWithoutUser.body).toMatchObject({ field: "runAsUser" });

    const uses = await createToken({ maxUses: 0 });
    expect(uses.status).toBe(400);
    expect(uses.body).toMatchObject({ field: "maxUses" });
  });
});

/** The policy fields of the console's create form, labelled, with the API's errors next to the field. */
describe("Initial Access Tokens screen with a policy", { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: TestBrowser;
  let close: () => Promise<void>;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer({ database: "sqlite" }), launchBrowser()]);
    await seed(server);
  });
  afterAll(async () => {
    await close?.();
    await browser?.close();
    await server?.close();
  });

  it("creates a token for machine clients from the form, and lists its policy and registrations left", async () => {
    const opened = await browser.open(`${server.url}/admin/security/oauth/initial-access-tokens`);
    close = () => opened.context.close();
    const page = opened.page;
    page.setDefaultTimeout(20_000);
    await signIn(page);
    await page.getByRole("heading", { level: 1, name: "Initial Access Tokens" }).waitFor();

    // An error of the API lands next to its field.
    await page.getByLabel("Registrations allowed", { exact: true }).fill("0");
    await page.getByRole("button", { name: "Create Token" }).click();
    await page.getByRole("alert").filter({ hasText: "maxUses must be at least 1" }).waitFor();
    const uses = page.getByLabel("Registrations allowed", { exact: true });
    expect(await uses.getAttribute("aria-invalid")).toBe("true");
    const describedBy = (await uses.getAttribute("aria-describedby"))!.split(" ");
    const errorId = await page.getByRole("alert").filter({ hasText: "maxUses" }).getAttribute("id");
    expect(describedBy).toContain(errorId);
    expect(await admin(server, "GET", "/oauth/initial-access-tokens")).toMatchObject({ body: [] });

    await page.getByLabel("Registrations allowed", { exact: true }).fill("2");
    await page.getByLabel("Run as user", { exact: true }).selectOption(USER);
    await page.getByRole("group", { name: "Scopes a registration may ask for" }).getByLabel("math").check();
    await page
      .getByRole("group", { name: "Grants a registration may ask for" })
      .getByLabel("Client credentials")
      .check();
    await page.getByRole("button", { name: "Create Token" }).click();
    const value = await page.getByRole("textbox", { name: "Initial access token", exact: true }).inputValue();
    const [token] = (await admin(server, "GET", "/oauth/initial-access-tokens")).body as Json[];
    expect(token).toMatchObject({
      runAsUser: USER,
      scopes: ["math"],
      grantTypes: ["client_credentials"],
      maxUses: 2,
      usesLeft: 2,
    });
    const registered = await fetch(`${server.url}/oauth2/register`, {
      method: "POST",
      headers: { authorization: `Bearer ${value}`, "content-type": "application/json" },
      body: JSON.stringify({ grant_types: ["client_credentials"] }),
    });
    expect(registered.status).toBe(201);
    await page.reload();
    const row = page.getByRole("row").filter({ hasText: token.id });
    await row.getByText("1 of 2").waitFor();
    await row.getByText("Partly used", { exact: true }).waitFor();
    expect(await row.textContent()).toContain("Client credentials");
    expect(await page.content()).not.toContain(value);
    await screenshots(page, "oauth-initial-access-tokens-policy");
  });
});
