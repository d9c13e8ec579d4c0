import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RESOURCE, startThirdParty, type ThirdParty } from "../resource/support/third-party.js";
import { launchBrowser, screenshots, signIn, type TestBrowser } from "../support/browser.js";
import { startServer, type TestServer } from "../support/server.js";

/**
 * "Using Integration Server With a Third-party OAuth Authorization Server", its "Setting up Integration
 * Server" part, followed in Conduit's console as a person would: every step finds its link, field and
 * button by role and label, with the article's names. node-oidc-provider plays Okta.
 */
describe("the article, walked in the console", () => {
  let server: TestServer;
  let thirdParty: ThirdParty;
  let browser: TestBrowser;

  beforeAll(async () => {
    [server, thirdParty, browser] = await Promise.all([
      startServer({ database: "sqlite" }),
      startThirdParty(),
      launchBrowser(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await thirdParty?.stop();
    await server?.close();
  });

  const invoke = (token: string) =>
    fetch(`${server.url}/invoke/pub.math/randomDouble`, {
      headers: { authorization: `Bearer ${token}`, accept: "application/json" },
    });

  /** "Go to Security > OAuth": the menu's Security section, its OAuth entry. */
  async function goToSecurityOAuth(page: Page): Promise<void> {
    const menu = page.getByRole("navigation", { name: "Main menu" });
    await menu.getByRole("link", { name: "OAuth", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "OAuth", exact: true }).waitFor();
  }

  it("creates the scope, the external server and selects it; a token of the third party then runs pub.math/randomDouble", async () => {
    const { context, page } = await browser.open(`${server.url}/`);
    page.setDefaultTimeout(20_000);
    page.on("dialog", (dialog) => void dialog.accept());
    await signIn(page);
    // The menu names the section as the article does.
    await page
      .getByRole("navigation", { name: "Main menu" })
      .getByRole("heading", { name: "Security" })
      .waitFor();

    // "Create scopes. Go to Security > OAuth > Scope Management > Add Scope … Specify a folder or service."
    await goToSecurityOAuth(page);
    await page.getByRole("link", { name: "Scope Management", exact: true }).click();
    await page.getByRole("link", { name: "Add Scope", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Add Scope" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("invoke");
    await page.getByLabel("Description", { exact: true }).fill("The scope of the article's test");
    await page.getByLabel("Folders and services").fill("pub.math");
    await page.getByRole("button", { name: "Add folder or service" }).click();
    await page.getByRole("list", { name: "Chosen folders and services" }).getByText("pub.math").waitFor();
    await page.getByRole("button", { name: "Save Scope" }).click();
    await page.getByRole("status").filter({ hasText: "Scope invoke added." }).waitFor();
    await page.getByRole("link", { name: "Edit scope invoke" }).waitFor();

    // Before the external server is selected, the third party's token means nothing here.
    const early = await thirdParty.token("invoke");
    expect((await invoke(early)).status).toBe(401);

    // "Go to Security > OAuth and click the Add External Authorization Server link."
    await goToSecurityOAuth(page);
    await page.getByRole("link", { name: "Add External Authorization Server", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Add External Authorization Server" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("Okta");
    await page
      .getByLabel("Introspection Endpoint", { exact: true })
      .fill(`${thirdParty.issuer}/token/introspection`);
    await page.getByLabel("Client Id", { exact: true }).fill(RESOURCE.clientId);
    await page.getByLabel("Client Secret", { exact: true }).fill(RESOURCE.clientSecret);
    await page.getByLabel("User", { exact: true }).selectOption("Administrator");
    await page.getByRole("button", { name: "Save External Server" }).click();
    await page.getByRole("status").filter({ hasText: "External authorization server Okta added." }).waitFor();
    await page.getByRole("link", { name: "Edit external server Okta" }).waitFor();
    expect(await page.content()).not.toContain(RESOURCE.clientSecret);

    // "Go to Security > OAuth and click the Edit Global Settings link. Under Resource Server Settings, open
    // the Authorization Server drop-down and select Okta."
    await goToSecurityOAuth(page);
    await page.getByRole("link", { name: "Edit Global Settings", exact: true }).click();
    const resourceServer = page.getByRole("group", { name: "Resource Server Settings" });
    const dropDown = resourceServer.getByRole("combobox", { name: "Authorization Server" });
    expect(await dropDown.locator("option").allTextContents()).toEqual(["local (this server)", "Okta"]);
    await dropDown.selectOption({ label: "Okta" });
    await page.getByRole("button", { name: "Save Changes" }).click();
    await page.getByRole("status").filter({ hasText: "Global settings saved" }).waitFor();

    // Security > OAuth now says so.
    await goToSecurityOAuth(page);
    await page.getByText("Okta (external)").waitFor();
    await screenshots(page, "article-oauth-home");

    // "Use the access token … curl -v http://localhost:5555/invoke/pub.math/randomDouble -H 'Authorization: Bearer …'"
    const token = await thirdParty.token("invoke");
    const response = await invoke(token);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { number?: unknown };
    expect(typeof body.number).toBe("number");
    expect(body.number).toBeGreaterThanOrEqual(0);
    expect(body.number).toBeLessThan(1);

    // "If … the requested service is [not] in the scope that the token was issued for … 401 [or 403]."
    const other = await thirdParty.token("reports");
    expect([401, 403]).toContain((await invoke(other)).status);
    // "Revoking an Access Token": one the third party revoked is refused (this one was never cached).
    const revoked = await thirdParty.token("invoke");
    await thirdParty.revoke(revoked);
    expect((await invoke(revoked)).status).toBe(401);
    await context.close();
  }, 120_000);
});
