import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, screenshots, signIn, type TestBrowser } from "../support/browser.js";
import { basic } from "../support/server.js";
import { startFlowServer, writePackage, type FlowServer } from "../flow/support.js";

/**
 * The console's Server, Security, Packages and Settings screens in a real browser, used as a person would
 * (everything found by role and label), checked against what the server then does: users can call
 * /invoke, an ACL denies, a run shows the output, a flow saved in the editor is the one that runs.
 */

const GREET = [
  "name: demo.flows:greet",
  "description: Greets someone",
  "signature:",
  "  input:",
  "    - { name: who, type: string, required: true }",
  "  output:",
  "    - { name: greeting, type: string }",
  "steps:",
  "  - type: map",
  "    set:",
  '      greeting: "Hello, %who%"',
  "  - type: branch",
  "    switch: who",
  "    cases:",
  "      - label: Ada",
  "        steps:",
  "          - type: invoke",
  "            service: pub.math:addInts",
  "            input: { set: { num1: 1, num2: 2 } }",
  "      - label: $default",
  "        steps: []",
  "",
].join("\n");

const brokenFlow = (property: string) =>
  ["name: broken.flows:oops", "steps:", "  - type: map", `    ${property}: { x: 1 }`, ""].join("\n");

describe("console screens (sqlite)", () => {
  let server: FlowServer;
  let browser: TestBrowser;
  let context: BrowserContext;
  let page: Page;

  const go = async (path: string) => {
    await page.goto(`${server.url}${path}`);
    await page.getByRole("button", { name: "Sign out" }).waitFor();
  };
  const invokeAs = async (user: string, password: string, service: string, query = "") =>
    fetch(`${server.url}/invoke/${service}${query}`, { headers: { authorization: basic(user, password) } });

  beforeAll(async () => {
    server = await startFlowServer({
      Demo: { "manifest.yaml": "version: '1.0'\ndescription: Demo flows\n", "flows/greet.flow.yaml": GREET },
      Broken: { "manifest.yaml": "version: '1.0'\n", "flows/oops.flow.yaml": brokenFlow("sett") },
    });
    browser = await launchBrowser();
    ({ context, page } = await browser.open(`${server.url}/admin/`));
    page.on("dialog", (dialog) => void dialog.accept());
    await signIn(page);
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it("Users and Groups: adds a group and a user in it, who can then call /invoke with Basic", async () => {
    await go("/admin/security/users");
    await page.getByRole("link", { name: "Add group" }).click();
    await page.getByLabel("Name").fill("testers");
    await page.getByLabel("Description").fill("People who test");
    await page.getByRole("button", { name: "Add group" }).click();
    await page.getByRole("status").filter({ hasText: "Group testers added." }).waitFor();
    await expect.poll(() => page.getByRole("rowheader", { name: "testers" }).count()).toBe(1);

    await page.getByRole("link", { name: "Add user" }).click();
    await page.getByLabel("Username").fill("alice");
    // Too short: the API's error appears next to the Password field, in words.
    await page.getByLabel("Password").fill("short");
    await page.getByRole("group", { name: "Groups" }).getByLabel("testers").check();
    await page.getByRole("button", { name: "Add user" }).click();
    const passwordError = page.locator(".field.invalid", { has: page.getByLabel("Password") });
    await expect.poll(() => passwordError.textContent()).toContain("password must be at least 8 characters");
    expect(await page.getByLabel("Password").getAttribute("aria-invalid")).toBe("true");
    await screenshots(page, "users-add-error");
    await page.getByLabel("Password").fill("alice-password-1");
    await page.getByRole("button", { name: "Add user" }).click();
    await page.getByRole("status").filter({ hasText: "User alice added." }).waitFor();
    const aliceRow = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "alice" }) });
    expect(await aliceRow.textContent()).toContain("testers");
    // The password is never on the page.
    expect(await page.content()).not.toContain("alice-password-1");

    const response = await invokeAs("alice", "alice-password-1", "pub.math/addInts", "?num1=40&num2=2");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ value: 42 });
    const user = (await server.admin("GET", "/users/alice")).body as { groups: string[] };
    expect(user.groups).toEqual(["Everybody", "testers"]);
    await screenshots(page, "users-groups");

    // A new password replaces the old one.
    await page.getByRole("link", { name: "Edit user alice" }).click();
    await page.getByLabel("New password").fill("alice-password-2");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "User alice saved, with a new password." }).waitFor();
    expect((await invokeAs("alice", "alice-password-1", "pub.math/randomDouble")).status).toBe(401);
    expect((await invokeAs("alice", "alice-password-2", "pub.math/randomDouble")).status).toBe(200);

    // A group's members are edited on the group: bob joins testers there.
    expect(
      (await server.admin("POST", "/users", { username: "bob", password: "bob-password-1" })).status,
    ).toBe(201);
    await go("/admin/security/users");
    await page.getByRole("link", { name: "Edit group testers" }).click();
    await page.getByRole("group", { name: "Members" }).getByLabel("bob").check();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Group testers saved." }).waitFor();
    expect(((await server.admin("GET", "/users/bob")).body as { groups: string[] }).groups).toContain(
      "testers",
    );

    // Deleting asks first, then the user is gone.
    await page.getByRole("button", { name: "Delete user bob" }).click();
    await page.getByRole("status").filter({ hasText: "User bob deleted." }).waitFor();
    expect((await server.admin("GET", "/users/bob")).status).toBe(404);
    await expect.poll(() => page.getByRole("rowheader", { name: "bob" }).count()).toBe(0);
  });

  it("ACLs and Service Namespace: an ACL denying a group, assigned to a service, denies its user (403)", async () => {
    await go("/admin/security/acls");
    await page.getByRole("link", { name: "Add ACL" }).click();
    await page.getByLabel("Name").fill("NoTesters");
    await page.getByRole("group", { name: "Allowed groups" }).getByLabel("Everybody").check();
    await page.getByRole("group", { name: "Denied groups" }).getByLabel("testers").check();
    await screenshots(page, "acls-add");
    await page.getByRole("button", { name: "Add ACL" }).click();
    await page.getByRole("status").filter({ hasText: "ACL NoTesters added." }).waitFor();
    const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "NoTesters" }) });
    expect(await row.textContent()).toContain("testers");
    await screenshots(page, "acls");
    expect((await invokeAs("alice", "alice-password-2", "pub.math/addInts", "?num1=1&num2=1")).status).toBe(
      200,
    );

    await go("/admin/services");
    const pub = page.getByRole("button", { name: "Folder pub", exact: true });
    expect(await pub.getAttribute("aria-expanded")).toBe("false");
    await pub.click();
    expect(await pub.getAttribute("aria-expanded")).toBe("true");
    // Keyboard: the folder opens with Enter.
    await page.getByRole("button", { name: "Folder pub.math" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("link", { name: "pub.math:addInts", exact: true }).click();
    await page.getByRole("heading", { name: "Service pub.math:addInts" }).waitFor();
    expect(await page.getByRole("definition").filter({ hasText: "Default" }).first().textContent()).toContain(
      "server default",
    );
    await page.getByLabel("ACL", { exact: true }).selectOption("NoTesters");
    await page.getByRole("button", { name: "Save ACL" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: "ACL NoTesters assigned to pub.math:addInts." })
      .waitFor();
    await expect
      .poll(async () => await page.locator("dl.facts").textContent())
      .toContain("NoTesters (assigned here)");

    expect((await invokeAs("alice", "alice-password-2", "pub.math/addInts", "?num1=1&num2=1")).status).toBe(
      403,
    );
    expect(
      (
        await fetch(`${server.url}/invoke/pub.math/addInts?num1=1&num2=1`, {
          headers: { authorization: server.adminAuth },
        })
      ).status,
    ).toBe(200);
    // Another service of the folder is untouched.
    expect((await invokeAs("alice", "alice-password-2", "pub.math/randomDouble")).status).toBe(200);

    // On a folder: its services inherit the ACL; "Inherited" removes the assignment again.
    const toUpper = () => invokeAs("alice", "alice-password-2", "pub.string/toUpper", "?inString=a");
    expect((await toUpper()).status).toBe(200);
    await go("/admin/services");
    await page.getByRole("button", { name: "Folder pub", exact: true }).click();
    await page.getByRole("link", { name: "Properties of folder pub.string" }).click();
    await page.getByRole("heading", { name: "Folder pub.string" }).waitFor();
    await page.getByLabel("ACL", { exact: true }).selectOption("NoTesters");
    await page.getByRole("button", { name: "Save ACL" }).click();
    await page.getByRole("status").filter({ hasText: "ACL NoTesters assigned to pub.string." }).waitFor();
    expect((await toUpper()).status).toBe(403);
    await go("/admin/services");
    await page.getByRole("button", { name: "Folder pub", exact: true }).click();
    await page.getByRole("button", { name: "Folder pub.string" }).click();
    const upperRow = page.locator(".tree-row", {
      has: page.getByRole("link", { name: "pub.string:toUpper" }),
    });
    expect(await upperRow.textContent()).toContain("ACL NoTesters (inherited from pub.string)");
    await page.getByRole("link", { name: "Properties of folder pub.string" }).click();
    await page.getByLabel("ACL", { exact: true }).selectOption({ label: "Inherited (no ACL of its own)" });
    await page.getByRole("button", { name: "Save ACL" }).click();
    await page.getByRole("status").filter({ hasText: "pub.string has no ACL of its own now" }).waitFor();
    expect((await toUpper()).status).toBe(200);

    // Editing the ACL: with testers no longer denied, alice may call addInts again.
    await go("/admin/security/acls");
    await page.getByRole("link", { name: "Edit ACL NoTesters" }).click();
    // The page names where the ACL is assigned once its data has loaded: wait for it, then count.
    await page.getByText("pub.math:addInts").first().waitFor();
    expect(await page.getByText("pub.math:addInts").count()).toBeGreaterThan(0);
    await page.getByRole("group", { name: "Denied groups" }).getByLabel("testers").uncheck();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "ACL NoTesters saved." }).waitFor();
    expect((await invokeAs("alice", "alice-password-2", "pub.math/addInts", "?num1=1&num2=1")).status).toBe(
      200,
    );
    // An ACL in use cannot be deleted: the API's reason is shown next to the button.
    await page.getByRole("button", { name: "Delete ACL NoTesters" }).click();
    await page
      .getByRole("alert")
      .filter({ hasText: "ACL NoTesters is assigned to pub.math:addInts" })
      .waitFor();
  });

  it("Service Namespace: Test > Run builds a form from the signature and shows the output pipeline", async () => {
    await go("/admin/services/pub.math:addInts");
    const run = page.getByRole("form", { name: "Run pub.math:addInts" });
    // A missing required input: the service's answer is shown next to that field, in words.
    await run.getByLabel("num1").fill("40");
    await run.getByRole("button", { name: "Run" }).click();
    const num2Field = run.locator(".field.invalid", { has: page.getByLabel("num2") });
    await expect.poll(() => num2Field.textContent()).toContain('missing required input "num2"');

    await run.getByLabel("num2").fill("2");
    await run.getByRole("button", { name: "Run" }).click();
    const output = page.getByLabel("Output pipeline as JSON");
    await output.waitFor();
    expect(JSON.parse((await output.textContent()) ?? "")).toEqual({ value: 42 });
    expect(await output.textContent()).toContain('"value": 42');
    await screenshots(page, "namespace-service");
    await go("/admin/services");
    await page.getByRole("button", { name: "Expand all" }).click();
    await screenshots(page, "namespace");
  });

  it("Packages: a broken package's errors are shown, and Reload shows its result", async () => {
    await go("/admin/packages");
    const errors = page.getByRole("region", { name: "Errors of package Broken" });
    await errors.waitFor();
    expect(await errors.textContent()).toContain('flows/oops.flow.yaml at /steps/0: unknown property "sett"');
    const brokenRow = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: /Broken/ }) });
    expect(await brokenRow.textContent()).toContain("Not loaded");

    await page.getByRole("button", { name: "Reload package Broken" }).click();
    const result = page.getByRole("status").filter({ hasText: "Reload of Broken" });
    await result.waitFor();
    expect(await result.textContent()).toContain("package Broken has problems and is not loaded");
    expect(await result.textContent()).toContain('unknown property "sett"');
    await screenshots(page, "packages");

    writePackage(server.packagesDir, "Broken", { "flows/oops.flow.yaml": brokenFlow("set") });
    await page.getByRole("button", { name: "Reload package Broken" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: "Package Broken reloaded: 1 service loaded." })
      .waitFor();
    await expect.poll(() => page.getByRole("region", { name: "Errors of package Broken" }).count()).toBe(0);
    expect(await brokenRow.textContent()).toContain("Loaded");
    expect((await server.invoke("broken.flows:oops")).body).toEqual({ x: 1 });

    await page.getByRole("link", { name: "Demo", exact: true }).click();
    await page.getByRole("heading", { name: "Package Demo" }).waitFor();
    await page.getByRole("link", { name: "demo.flows:greet", exact: true }).waitFor();
    await page.getByRole("link", { name: "Flow demo.flows:greet" }).waitFor();
    expect(await page.locator("dl.facts").textContent()).toContain("Demo flows");
    await screenshots(page, "packages-detail");
  });

  it("Flows: the steps as an outline; a YAML error is shown inline with its path; the fixed flow runs", async () => {
    await go("/admin/flows");
    await page.getByRole("link", { name: "demo.flows:greet" }).click();
    const outline = page.getByRole("region", { name: "Steps" });
    await outline.waitFor();
    const text = (await outline.textContent()) ?? "";
    for (const part of ["MAP", "set greeting", "BRANCH", "on who", "case Ada", "INVOKE pub.math:addInts"])
      expect(text).toContain(part);
    await screenshots(page, "flows");

    const editor = page.getByLabel("Flow definition (YAML)");
    await expect.poll(() => editor.inputValue()).toContain("Hello, %who%");
    await editor.fill(GREET.replace("    set:\n", "    sett:\n"));
    await page.getByRole("button", { name: "Save" }).click();
    const problems = page.getByRole("alert").filter({ hasText: "unknown property" });
    await problems.waitFor();
    expect(await problems.textContent()).toContain('at /steps/0: unknown property "sett"');
    // The problem points at its line of the text (the MAP step is on line 9).
    await page.getByRole("button", { name: /Go to line 9/ }).waitFor();
    expect(await editor.getAttribute("aria-invalid")).toBe("true");
    await screenshots(page, "flows-error");
    // Nothing was written: the old version still runs.
    expect((await server.invoke("demo.flows:greet", { who: "Ada" })).body).toMatchObject({
      greeting: "Hello, Ada",
    });

    await editor.fill(GREET.replace("Hello, %who%", "Bonjour, %who%"));
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Flow demo.flows:greet saved" }).waitFor();
    expect(await page.getByRole("alert").filter({ hasText: "unknown property" }).count()).toBe(0);
    expect((await server.invoke("demo.flows:greet", { who: "Ada" })).body).toMatchObject({
      greeting: "Bonjour, Ada",
    });

    // A new flow, from the template, in a package.
    await go("/admin/flows");
    await page.getByRole("link", { name: "New flow" }).click();
    await page.getByLabel("Service name").fill("demo.flows:hello");
    await page.getByLabel("Package").selectOption("Demo");
    await page.getByRole("button", { name: "Create flow" }).click();
    await page.getByRole("heading", { name: "Flow demo.flows:hello" }).waitFor();
    expect((await server.invoke("demo.flows:hello", { who: "Bob" })).body).toMatchObject({
      greeting: "Hello, Bob",
    });
  });

  it("Global Variables: a secret's value never appears in the page; a plain one is shown", async () => {
    const secretValue = "s3cr3t-value-never-shown";
    await go("/admin/settings/global-variables");
    await page.getByRole("link", { name: "Add global variable" }).click();
    await page.getByLabel("Name").fill("apiKey");
    await page.getByLabel("Secret (write-only: the value is never shown again)").check();
    await page.getByLabel("Value", { exact: true }).fill(secretValue);
    expect(await page.getByLabel("Value", { exact: true }).getAttribute("type")).toBe("password");
    await page.getByRole("button", { name: "Add global variable" }).click();
    await page.getByRole("status").filter({ hasText: "Global variable apiKey added." }).waitFor();

    await page.getByRole("link", { name: "Add global variable" }).click();
    await page.getByLabel("Name").fill("region");
    await page.getByLabel("Value", { exact: true }).fill("eu-west-1");
    await page.getByRole("button", { name: "Add global variable" }).click();
    await page.getByRole("status").filter({ hasText: "Global variable region added." }).waitFor();

    const row = (name: string) =>
      page.getByRole("row").filter({ has: page.getByRole("rowheader", { name, exact: true }) });
    expect(await row("apiKey").textContent()).toContain("secret: value hidden");
    expect(await row("region").textContent()).toContain("eu-west-1");
    expect(await page.content()).not.toContain(secretValue);
    await screenshots(page, "global-variables");

    await page.getByRole("link", { name: "Edit global variable apiKey" }).click();
    await page.getByText("A secret value is set and is never shown.").waitFor();
    expect(await page.getByLabel("Value", { exact: true }).inputValue()).toBe("");
    await screenshots(page, "global-variables-edit-secret");
    expect(await page.content()).not.toContain(secretValue);
    // Invalid name: the API's error next to the Name field.
    await go("/admin/settings/global-variables/new");
    await page.getByLabel("Name").fill("9 bad name");
    await page.getByLabel("Value", { exact: true }).fill("x");
    await page.getByRole("button", { name: "Add global variable" }).click();
    const nameField = page.locator(".field.invalid", { has: page.getByLabel("Name") });
    await expect.poll(() => nameField.textContent()).toContain("a global variable name has letters");
    // The variable is really secret on the server and really set.
    const stored = (await server.admin("GET", "/global-variables/apiKey")).body as Record<string, unknown>;
    expect(stored).toMatchObject({ name: "apiKey", secret: true });
    expect(stored).not.toHaveProperty("value");
  });

  it("Logs: shows audited actions, filtered by event, and Follow appends new records", async () => {
    await go("/admin/server/logs");
    await page.getByLabel("Event").fill("audit");
    await page.getByRole("button", { name: "Show" }).click();
    const userCreate = page.getByRole("row").filter({ hasText: "audit: user.create alice" });
    await userCreate.waitFor();
    expect(await userCreate.textContent()).toContain("actor=Administrator");
    expect(await userCreate.textContent()).toContain("info");
    // Only audit records are listed.
    const events = await page.locator("table.log-table tbody tr td:nth-child(3)").allTextContents();
    expect(events.length).toBeGreaterThan(3);
    expect(new Set(events)).toEqual(new Set(["audit"]));
    await screenshots(page, "logs");

    await page.getByLabel("Follow (look for new records every 2 seconds)").check();
    expect((await server.admin("POST", "/groups", { name: "followers" })).status).toBe(201);
    // Not reloaded by hand: Follow finds it within a few seconds.
    await page
      .getByRole("row")
      .filter({ hasText: "audit: group.create followers" })
      .waitFor({ timeout: 8000 });
    await page.getByLabel("Follow (look for new records every 2 seconds)").uncheck();
  });

  it("Statistics: the request count grows (refreshed every 10 s) and the chart has a text alternative", async () => {
    await go("/admin/server/statistics");
    const requests = page
      .locator(".number")
      .filter({ has: page.locator("dt", { hasText: /^Requests$/ }) })
      .locator("dd");
    await requests.waitFor();
    const count = async () => Number(((await requests.textContent()) ?? "").replace(/\D/g, ""));
    const before = await count();
    expect(before).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) await fetch(`${server.url}/health`);
    // No click: the page refreshes itself within 10 s.
    await expect.poll(count, { timeout: 15_000, interval: 1000 }).toBeGreaterThanOrEqual(before + 5);
    const chart = page.getByRole("img", { name: /Requests and introspection calls per 10 seconds/ });
    await chart.waitFor();
    expect(await chart.locator("polyline").count()).toBe(2);
    expect(await page.getByRole("table", { name: /Requests and introspection calls/ }).count()).toBe(1);
    expect(await page.getByRole("table", { name: "Requests by status" }).textContent()).toContain("200");
    await screenshots(page, "statistics");
  });
});
