import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.js";
import { launchBrowser, signIn, type TestBrowser } from "../support/browser.js";
import { startServer, type TestServer } from "../support/server.js";

/**
 * The server side of the console as chromium sees it: the page loads under its Content-Security-Policy
 * without a violation, a reload finds the live session (GET /admin/api/session needs only the cookie),
 * and an ended session brings back the sign-in page, never the browser's own password dialog.
 */
describe("console pages and session in chromium", () => {
  let server: TestServer;
  let browser: TestBrowser;
  const clock = new ManualClock();

  beforeAll(async () => {
    server = await startServer({ clock });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("signs in under the CSP, keeps the session across a reload, and shows sign-in once it has ended", async () => {
    const { context, page } = await browser.open(`${server.url}/`);
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/content security policy/i.test(message.text())) violations.push(message.text());
    });
    page.on("pageerror", (error) => violations.push(String(error)));
    let basicChallenges = 0;
    page.on("response", (response) => {
      if (/^basic/i.test(response.headers()["www-authenticate"] ?? "")) basicChallenges += 1;
    });
    expect(new URL(page.url()).pathname).toBe("/admin/");
    await signIn(page);

    await page.reload();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    const cookie = (await context.cookies()).find((c) => c.name === "conduit_session");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/", secure: false });
    // The page's own scripts cannot read the cookie, and a fetch without the token is refused.
    expect(await page.evaluate("document.cookie")).not.toContain("conduit_session");
    expect(await page.evaluate(async () => (await fetch("/invoke/pub.math/randomDouble")).status)).toBe(403);

    clock.advance(31 * 60_000);
    await page.reload();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    expect(basicChallenges).toBe(0);
    expect(violations).toEqual([]);
    await context.close();
  });
});
