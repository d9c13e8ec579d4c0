import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RESOURCE, startThirdParty, type ThirdParty } from "../resource/support/third-party.js";
import { launchBrowser, screenshots, SCREENSHOTS, signIn, type TestBrowser } from "../support/browser.js";
import { startServer, type TestServer } from "../support/server.js";

/**
 * The Security > OAuth screens in a real browser against a real Conduit: secrets shown once and never
 * again, revocation that takes effect, the API's errors in words next to the field, and the write-only
 * secret of an external server. Everything is found by role and label, as a screen reader would.
 */
// Browser steps are slow on a loaded machine: generous bounds, still finite.
describe("Security > OAuth screens", { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: TestBrowser;
  let thirdParty: ThirdParty;
  let page: Page;
  let close: () => Promise<void>;

  beforeAll(async () => {
    [server, browser, thirdParty] = await Promise.all([
      startServer({ database: "sqlite" }),
      launchBrowser(),
      startThirdParty(),
    ]);
    await admin("POST", "/admin/api/oauth/scopes", {
      name: "math",
      description: "pub.math",
      values: ["pub.math"],
    });
    const opened = await browser.open(`${server.url}/admin/security/oauth`);
    page = opened.page;
    page.setDefaultTimeout(20_000);
    page.on("dialog", (dialog) => void dialog.accept());
    close = () => opened.context.close();
    await signIn(page);
  });

  // A failed step leaves a picture of the page behind (test-output/screenshots/failed-*.png).
  afterEach(async ({ task }) => {
    if (task.result?.state === "fail" && page)
      await page
        .screenshot({
          path: `${SCREENSHOTS}/failed-${task.name.replace(/\W+/g, "-").slice(0, 60)}.png`,
          fullPage: true,
        })
        .catch(() => undefined);
  });

  afterAll(async () => {
    await close?.();
    await browser?.close();
    await thirdParty?.stop();
    await server?.close();
  });

  async function admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: server.adminAuth,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A client-credentials token of Conduit's own /oauth2/token, or the error status. */
  async function clientCredentials(clientId: string, secret: string, scope = "math") {
    const response = await fetch(`${server.url}/oauth2/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ grant_type: "client_credentials", scope }),
    });
    const body = (await response.json()) as { access_token?: string };
    return { status: response.status, token: body.access_token };
  }

  const invoke = (token: string) =>
    fetch(`${server.url}/invoke/pub.math/randomDouble`, {
      headers: { authorization: `Bearer ${token}`, accept: "application/json" },
    });

  async function go(path: string, heading: string | RegExp): Promise<void> {
    await page.goto(`${server.url}${path}`);
    await page.getByRole("heading", { level: 1, name: heading }).waitFor();
  }

  async function secretOnce(name: string): Promise<string> {
    const region = page.getByRole("region", { name, exact: true });
    await region.waitFor();
    const value = await region.getByRole("textbox", { name, exact: true }).inputValue();
    expect(value.length).toBeGreaterThanOrEqual(20);
    await region.getByRole("button", { name: `Copy ${name.toLowerCase()}` }).waitFor();
    return value;
  }

  it("registers a confidential client, shows its secret once, and Generate New Secret shows a new one", async () => {
    await go("/admin/security/oauth/clients", "Client Registration");
    await page.getByRole("link", { name: "Add Client", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Add Client" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("reports");
    await page.getByLabel("Version", { exact: true }).fill("2.0");
    await page.getByLabel("Type", { exact: true }).selectOption("confidential");
    await page.getByLabel("Description", { exact: true }).fill("Nightly reports");
    const grants = page.getByRole("group", { name: "Allowed Grants" });
    await grants.getByRole("checkbox", { name: "Authorization code" }).uncheck();
    await grants.getByRole("checkbox", { name: "Client credentials" }).check();
    await page.getByRole("group", { name: "Scopes" }).getByRole("checkbox", { name: /^math/ }).check();
    await page.getByLabel("Run as user", { exact: true }).selectOption("Administrator");
    await screenshots(page, "oauth-client-add");
    await page.getByRole("button", { name: "Register Client" }).click();

    const secret = await secretOnce("Client secret");
    const [client] = (
      await admin<{ clientId: string; clientName: string; version: string }[]>(
        "GET",
        "/admin/api/oauth/clients",
      )
    ).filter((c) => c.clientName === "reports");
    expect(client).toMatchObject({ version: "2.0" });
    await page.getByText(client!.clientId).first().waitFor();
    await screenshots(page, "oauth-client-created");

    // The secret works at the token endpoint, and its token runs the service.
    const first = await clientCredentials(client!.clientId, secret);
    expect(first.status).toBe(200);
    expect((await invoke(first.token!)).status).toBe(200);

    // The client's page (and a reload of it) no longer has the secret; nor does the API.
    await page.getByRole("link", { name: "Go to the client reports 2.0" }).click();
    await page.getByRole("heading", { level: 1, name: "Edit Client reports 2.0" }).waitFor();
    expect(await page.content()).not.toContain(secret);
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Edit Client reports 2.0" }).waitFor();
    await page.getByText("Set. Conduit keeps only a digest").waitFor();
    expect(await page.content()).not.toContain(secret);
    expect(JSON.stringify(await admin("GET", `/admin/api/oauth/clients/${client!.clientId}`))).not.toContain(
      secret,
    );
    expect(JSON.stringify(await admin("GET", "/admin/api/oauth/clients"))).not.toContain(secret);
    await screenshots(page, "oauth-client-edit");

    // Generate New Secret: a new one, shown once, that works.
    await page.getByRole("button", { name: "Generate New Secret" }).click();
    const second = await secretOnce("New client secret");
    expect(second).not.toBe(secret);
    await page.getByText("The previous secret keeps working until").waitFor();
    expect((await clientCredentials(client!.clientId, second)).status).toBe(200);
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Edit Client reports 2.0" }).waitFor();
    expect(await page.content()).not.toContain(second);

    // Edit, then disable: a disabled client gets no token.
    await page.getByLabel("Description", { exact: true }).fill("Nightly reports, edited");
    await page.getByRole("button", { name: "Save Changes" }).click();
    await page.getByRole("status").filter({ hasText: "Client reports 2.0 saved." }).waitFor();
    expect(
      (await admin<{ description: string }>("GET", `/admin/api/oauth/clients/${client!.clientId}`))
        .description,
    ).toBe("Nightly reports, edited");
    await page.getByRole("button", { name: "Disable client reports 2.0" }).click();
    await page.getByRole("button", { name: "Enable client reports 2.0" }).waitFor();
    expect([400, 401]).toContain((await clientCredentials(client!.clientId, second)).status);
    await page.getByRole("button", { name: "Enable client reports 2.0" }).click();
    await page.getByRole("button", { name: "Disable client reports 2.0" }).waitFor();
    expect((await clientCredentials(client!.clientId, second)).status).toBe(200);

    await page.getByRole("link", { name: "Client Registration", exact: true }).click();
    await page.getByRole("link", { name: "Edit client reports 2.0" }).waitFor();
    expect(await page.content()).not.toContain(second);
    await screenshots(page, "oauth-clients");
  });

  it("the API's error for a bad client field appears next to that field", async () => {
    await go("/admin/security/oauth/clients/new", "Add Client");
    await page.getByLabel("Name", { exact: true }).fill("no-redirects");
    await page.getByRole("button", { name: "Register Client" }).click();
    // The authorization code grant (on by default) needs a redirect URI: the API names redirectUris.
    const field = page.getByLabel("Redirect URIs", { exact: true });
    await expectDescribedBy(field, /redirect URI/);
    expect(await field.getAttribute("aria-invalid")).toBe("true");
    const names = (await admin<{ clientName: string }[]>("GET", "/admin/api/oauth/clients")).map(
      (c) => c.clientName,
    );
    expect(names).not.toContain("no-redirects");
  });

  it("revokes a token on the Tokens screen; the next bearer request with it is refused", async () => {
    const client = await admin<{ clientId: string; clientSecret: string }>(
      "POST",
      "/admin/api/oauth/clients",
      {
        clientName: "revoke-me",
        type: "confidential",
        grantTypes: ["client_credentials"],
        scopes: ["math"],
        runAsUser: "Administrator",
      },
    );
    const { token } = await clientCredentials(client.clientId, client.clientSecret);
    expect((await invoke(token!)).status).toBe(200);
    const [listed] = await admin<{ id: string }[]>(
      "GET",
      `/admin/api/oauth/tokens?clientId=${client.clientId}`,
    );

    await go("/admin/security/oauth/tokens", "Tokens");
    await page.getByLabel("Client", { exact: true }).selectOption({ label: "revoke-me 1.0" });
    const rows = page.getByRole("table").getByRole("row");
    await page
      .getByRole("table")
      .getByRole("caption")
      .filter({ hasText: /^1 token$/ })
      .waitFor();
    expect(await rows.count()).toBe(2); // the header and the one token
    await screenshots(page, "oauth-tokens");
    await page.getByRole("button", { name: `Revoke token ${listed!.id}` }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Token ${listed!.id} revoked` })
      .waitFor();
    await page.getByRole("table").getByText("Revoked", { exact: true }).waitFor();

    const refused = await invoke(token!);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain("invalid_token");

    // The filter on state: the revoked token is not active.
    await page.getByLabel("State", { exact: true }).selectOption("true");
    await page.getByText("No tokens match.").waitFor();
  });

  it("Remove Expired Tokens removes what expired and says how many", async () => {
    const client = await admin<{ clientId: string; clientSecret: string }>(
      "POST",
      "/admin/api/oauth/clients",
      {
        clientName: "short-lived",
        type: "confidential",
        grantTypes: ["client_credentials"],
        scopes: ["math"],
        runAsUser: "Administrator",
        accessTokenLifetime: 1,
      },
    );
    const { token } = await clientCredentials(client.clientId, client.clientSecret);
    expect(token).toBeTruthy();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await go("/admin/security/oauth/tokens", "Tokens");
    const button = page.getByRole("button", { name: "Remove Expired Tokens" });
    await button.click();
    await page.getByRole("status").filter({ hasText: "Removed 1 expired token (" }).waitFor();
    expect(await admin<unknown[]>("GET", `/admin/api/oauth/tokens?clientId=${client.clientId}`)).toEqual([]);
    await screenshots(page, "oauth-tokens-removed");
    // Again: nothing left to remove.
    await button.click();
    await page.getByRole("status").filter({ hasText: "Removed 0 expired tokens (" }).waitFor();
  });

  it("a scope value that does not exist shows the API's message next to the values field, and nothing is saved", async () => {
    await go("/admin/security/oauth/scopes", "Scope Management");
    await page.getByRole("link", { name: "Add Scope", exact: true }).click();
    await page.getByLabel("Name", { exact: true }).fill("broken");
    const values = page.getByLabel("Folders and services", { exact: true });
    await values.fill("pub.math");
    await values.press("Enter"); // Enter adds to the list; it does not submit the form
    await values.fill("pub.nothing:here");
    await page.getByRole("button", { name: "Add folder or service" }).click();
    await page.getByRole("button", { name: "Save Scope" }).click();
    await expectDescribedBy(values, "unknown folder or service: pub.nothing:here");
    expect(await values.getAttribute("aria-invalid")).toBe("true");
    await screenshots(page, "oauth-scope-error");
    expect(
      (await admin<{ name: string }[]>("GET", "/admin/api/oauth/scopes")).map((s) => s.name),
    ).not.toContain("broken");

    // Remove the bad one (by keyboard) and save: it is saved.
    await page.getByRole("button", { name: "Remove pub.nothing:here" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Save Scope" }).click();
    await page.getByRole("status").filter({ hasText: "Scope broken added." }).waitFor();
    expect(await admin("GET", "/admin/api/oauth/scopes/broken")).toMatchObject({ values: ["pub.math"] });

    // Edit it: a service of the namespace, in full.
    await page.getByRole("link", { name: "Edit scope broken" }).click();
    await page.getByRole("heading", { level: 1, name: "Edit Scope broken" }).waitFor();
    await page.getByLabel("Folders and services", { exact: true }).fill("pub.string:bytesToString");
    await page.getByRole("button", { name: "Save Changes" }).click();
    await page.getByRole("status").filter({ hasText: "Scope broken saved." }).waitFor();
    expect(await admin("GET", "/admin/api/oauth/scopes/broken")).toMatchObject({
      values: ["pub.math", "pub.string:bytesToString"],
    });
    await screenshots(page, "oauth-scopes");
    await page.getByRole("button", { name: "Delete scope broken" }).click();
    await page.getByRole("link", { name: "Edit scope broken" }).waitFor({ state: "detached" });
    expect(
      (await admin<{ name: string }[]>("GET", "/admin/api/oauth/scopes")).map((s) => s.name),
    ).not.toContain("broken");
  });

  it("an external server's secret is never in the page; an edit without a new one keeps it", async () => {
    await go("/admin/security/oauth/external-servers", "External Authorization Servers");
    await page.getByRole("link", { name: "Add External Authorization Server", exact: true }).click();
    await page.getByLabel("Name", { exact: true }).fill("Partner");
    await page
      .getByLabel("Introspection Endpoint", { exact: true })
      .fill(`${thirdParty.issuer}/token/introspection`);
    await page.getByLabel("Client Id", { exact: true }).fill(RESOURCE.clientId);
    await page.getByLabel("Client Secret", { exact: true }).fill(RESOURCE.clientSecret);
    await page.getByLabel("User", { exact: true }).selectOption("Administrator");
    await screenshots(page, "oauth-external-server-add");
    await page.getByRole("button", { name: "Save External Server" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: "External authorization server Partner added." })
      .waitFor();
    expect(await page.content()).not.toContain(RESOURCE.clientSecret);
    await screenshots(page, "oauth-external-servers");

    await page.getByRole("link", { name: "Edit external server Partner" }).click();
    await page
      .getByRole("heading", { level: 1, name: "Edit External Authorization Server Partner" })
      .waitFor();
    const secretField = page.getByLabel("Client Secret", { exact: true });
    expect(await secretField.inputValue()).toBe("");
    await expectDescribedBy(secretField, /A secret is set/);
    expect(await page.content()).not.toContain(RESOURCE.clientSecret);
    await screenshots(page, "oauth-external-server-edit");

    // Select it (through the API: the article test does it on the screen), then change only a number.
    await admin("PUT", "/admin/api/oauth/settings", { authorizationServer: "Partner" });
    await page.getByLabel("Timeout (milliseconds)", { exact: true }).fill("3000");
    await page.getByRole("button", { name: "Save Changes" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: "External authorization server Partner saved." })
      .waitFor();
    expect(await admin("GET", "/admin/api/oauth/external-servers/Partner")).toMatchObject({
      timeoutMs: 3000,
    });
    // The secret was kept: introspection with it still works.
    expect((await invoke(await thirdParty.token("math"))).status).toBe(200);

    // A new secret typed in replaces it (a wrong one: the third party refuses Conduit, so its tokens fail).
    await page.getByRole("link", { name: "Edit external server Partner" }).click();
    await page.getByLabel("Client Secret", { exact: true }).fill("not-the-secret");
    await page.getByRole("button", { name: "Save Changes" }).click();
    await page.getByRole("status").filter({ hasText: "saved (with a new client secret)" }).waitFor();
    expect(await page.content()).not.toContain("not-the-secret");
    expect((await invoke(await thirdParty.token("math"))).status).not.toBe(200);

    // Discovery: only the discovery URL, and the endpoints come from the document.
    await page.getByRole("link", { name: "Add External Authorization Server", exact: true }).click();
    await page.getByLabel("Name", { exact: true }).fill("Discovered");
    await page
      .getByLabel("Discovery URL", { exact: true })
      .fill(`${thirdParty.issuer}/.well-known/openid-configuration`);
    await page.getByLabel("Client Id", { exact: true }).fill(RESOURCE.clientId);
    await page.getByLabel("Client Secret", { exact: true }).fill(RESOURCE.clientSecret);
    await page.getByLabel("User", { exact: true }).selectOption("Administrator");
    await page.getByRole("button", { name: "Save External Server" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: "External authorization server Discovered added." })
      .waitFor();
    expect(await admin("GET", "/admin/api/oauth/external-servers/Discovered")).toMatchObject({
      introspectionEndpoint: `${thirdParty.issuer}/token/introspection`,
      issuer: thirdParty.issuer,
    });
    expect(await page.content()).not.toContain(RESOURCE.clientSecret);
    await page.getByRole("button", { name: "Delete external server Discovered" }).click();
    await page.getByRole("link", { name: "Edit external server Discovered" }).waitFor({ state: "detached" });

    // The selected server cannot be deleted: the API's reason is shown by the button.
    await page.getByRole("button", { name: "Delete external server Partner" }).click();
    await page.getByRole("alert").filter({ hasText: "select another first" }).waitFor();
    await admin("PUT", "/admin/api/oauth/settings", { authorizationServer: "local" });
  });

  it("Edit Global Settings saves what changed and shows the API's range error next to the field", async () => {
    await go("/admin/security/oauth", "OAuth");
    await page.getByRole("link", { name: "Edit Global Settings", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Edit Global Settings" }).waitFor();
    const code = page.getByLabel("Authorization code lifetime (seconds)", { exact: true });
    expect(await code.inputValue()).toBe("600");
    await code.fill("0");
    await page.getByRole("button", { name: "Save Changes" }).click();
    await expectDescribedBy(code, "authorizationCodeLifetime must be at least 1");
    await screenshots(page, "oauth-settings-error");
    await code.fill("300");
    await page.getByRole("checkbox", { name: "Require PKCE" }).check();
    await page.getByLabel("Title", { exact: true }).fill("Allow access?");
    await page.getByRole("button", { name: "Save Changes" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: "Global settings saved (3 settings changed)." })
      .waitFor();
    expect(await admin("GET", "/admin/api/oauth/settings")).toMatchObject({
      authorizationCodeLifetime: 300,
      requirePkce: true,
      approvalTitle: "Allow access?",
      authorizationServer: "local",
    });
    await screenshots(page, "oauth-settings");
    await page.getByRole("link", { name: "Overview", exact: true }).click();
    await page.getByText("300 s (5 minutes)").waitFor();
    await screenshots(page, "oauth-home");
  });

  it("creates an initial access token shown once, which registers a client, and deletes one", async () => {
    await go("/admin/security/oauth/initial-access-tokens", "Initial Access Tokens");
    await page.getByLabel("Lifetime (seconds)", { exact: true }).fill("600");
    await page.getByRole("button", { name: "Create Token" }).click();
    const token = await secretOnce("Initial access token");
    await screenshots(page, "oauth-initial-access-tokens");
    const registered = await fetch(`${server.url}/oauth2/register`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        client_name: "self-registered",
        redirect_uris: ["https://app.example/callback"],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      }),
    });
    expect(registered.status).toBe(201);
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Initial Access Tokens" }).waitFor();
    expect(await page.content()).not.toContain(token);
    await page.getByRole("table").getByText("Used", { exact: true }).waitFor();
    const [listed] = await admin<{ id: string }[]>("GET", "/admin/api/oauth/initial-access-tokens");
    await page.getByRole("button", { name: `Delete initial access token ${listed!.id}` }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Initial access token ${listed!.id} deleted.` })
      .waitFor();
    expect(await admin("GET", "/admin/api/oauth/initial-access-tokens")).toEqual([]);
  });

  it("every OAuth screen works at 360 px: nothing wider than the screen but the tables' own scroll", async () => {
    for (const [path, heading] of [
      ["/admin/security/oauth", "OAuth"],
      ["/admin/security/oauth/settings", "Edit Global Settings"],
      ["/admin/security/oauth/clients", "Client Registration"],
      ["/admin/security/oauth/scopes", "Scope Management"],
      ["/admin/security/oauth/scopes/new", "Add Scope"],
      ["/admin/security/oauth/tokens", "Tokens"],
      ["/admin/security/oauth/external-servers", "External Authorization Servers"],
      ["/admin/security/oauth/external-servers/new", "Add External Authorization Server"],
      ["/admin/security/oauth/initial-access-tokens", "Initial Access Tokens"],
    ] as const) {
      await page.setViewportSize({ width: 360, height: 740 });
      await go(path, heading);
      const overflow = await page.evaluate<number>(
        "document.documentElement.scrollWidth - window.innerWidth",
      );
      expect(overflow, path).toBeLessThanOrEqual(0);
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });
});

/** The accessible description of a field (its hint and its error, by aria-describedby) matches. */
async function expectDescribedBy(
  field: ReturnType<Page["getByLabel"]>,
  expected: string | RegExp,
): Promise<void> {
  const page = field.page();
  const description = async () => {
    const ids = ((await field.getAttribute("aria-describedby")) ?? "").split(/\s+/).filter(Boolean);
    const texts = await Promise.all(ids.map((id) => page.locator(`[id="${id}"]`).textContent()));
    return texts.join(" ");
  };
  await expect
    .poll(description, { timeout: 10_000 })
    .toMatch(
      typeof expected === "string" ? new RegExp(expected.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : expected,
    );
}
