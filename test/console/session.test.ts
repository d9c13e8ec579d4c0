import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, signIn, type TestBrowser } from "../support/browser.js";
import { freePort, startServer, type TestServer } from "../support/server.js";

/**
 * The console session as a browser holds it: signing out ends it on the server (a replayed cookie is
 * refused), and a form on another site cannot use it (the session needs its CSRF token in a header).
 */
describe("console session in a browser", () => {
  let server: TestServer;
  let browser: TestBrowser;
  let attacker: Server;
  let attackerPort: number;

  beforeAll(async () => {
    server = await startServer();
    browser = await launchBrowser();
    // A page elsewhere that posts a form to Conduit by itself.
    attackerPort = await freePort();
    attacker = createServer((request, response) => {
      const target = new URL(request.url ?? "/", "http://attacker").searchParams.get("target") ?? "";
      response.setHeader("content-type", "text/html");
      response.end(`<!doctype html><form method="post" action="${target}">
        <input name="name" value="stolen"><input name="description" value="x"><input name="values" value="pub.math">
        </form><script>document.forms[0].submit()</script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(attackerPort, resolve));
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => attacker?.close(resolve));
    await server?.close();
  });

  async function scopeNames(): Promise<string[]> {
    const response = await fetch(`${server.url}/admin/api/oauth/scopes`, {
      headers: { authorization: server.adminAuth },
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { name: string }[]).map((s) => s.name);
  }

  it("signing out ends the session on the server: the same cookie and token are refused afterwards", async () => {
    const { context, page } = await browser.open(`${server.url}/`);
    await signIn(page);
    const session = (await page.evaluate(async () => {
      const response = await fetch("/admin/api/session");
      return response.json();
    })) as { csrfToken: string; username: string };
    expect(session.username).toBe("Administrator");
    const cookie = (await context.cookies()).find((c) => c.name === "conduit_session");
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe("Strict");
    const replay = () =>
      fetch(`${server.url}/admin/api/users`, {
        headers: { cookie: `conduit_session=${cookie!.value}`, "x-csrf-token": session.csrfToken },
      });
    expect((await replay()).status).toBe(200);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    expect((await replay()).status).toBe(401);
    // The page itself no longer has a session either.
    expect(await page.evaluate(async () => (await fetch("/admin/api/session")).status)).toBe(401);
    await context.close();
  });

  it("a form posted from another site or another origin cannot use the session", async () => {
    const { context, page } = await browser.open(`${server.url}/`);
    await signIn(page);
    const attackers = [
      // Another site (localhost is not 127.0.0.1's site): SameSite=Strict keeps the cookie back.
      { origin: `http://localhost:${attackerPort}`, statuses: [401, 403] },
      // The same site on another port: the browser sends the cookie, but the form cannot add the
      // session's CSRF token, so the session is refused.
      { origin: `http://127.0.0.1:${attackerPort}`, statuses: [403] },
    ];
    for (const { origin, statuses } of attackers)
      for (const target of [
        `${server.url}/admin/api/oauth/scopes`,
        `${server.url}/invoke/pub.math/randomDouble`,
      ]) {
        const response = page.waitForResponse((r) => r.url() === target && r.request().method() === "POST");
        await page.goto(`${origin}/?target=${encodeURIComponent(target)}`);
        const answer = await response;
        expect(statuses, `${origin} → ${target}`).toContain(answer.status());
      }
    expect(await scopeNames()).not.toContain("stolen");
    // The session itself still works for the console.
    await page.goto(`${server.url}/admin/security/oauth`);
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await context.close();
  });
});
