import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { admin, PASSWORD, seed, USER } from "../oauth/support.js";
import { basic, startServer, type TestServer } from "../support/server.js";

const TOKEN = "scrape-token-0123456789abcdef0123456789";

describe("GET /metrics access", () => {
  let open: TestServer;
  let guarded: TestServer;
  beforeAll(async () => {
    open = await startServer();
    guarded = await startServer({ env: { CONDUIT_METRICS_TOKEN: TOKEN } });
    await seed(guarded);
  });
  afterAll(async () => {
    await open?.close();
    await guarded?.close();
  });

  const metrics = (server: TestServer, authorization?: string) =>
    fetch(`${server.url}/metrics`, authorization ? { headers: { authorization } } : {});

  it("is open by default, for local use", async () => {
    const response = await metrics(open);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("conduit_");
  });

  it("with CONDUIT_METRICS_TOKEN: the scrape token or an administrator's Basic credentials, nothing else", async () => {
    const none = await metrics(guarded);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Basic");
    expect((await metrics(guarded, `Bearer ${TOKEN}`)).status).toBe(200);
    expect((await metrics(guarded, guarded.adminAuth)).status).toBe(200);
    const wrong = await metrics(guarded, `Bearer ${TOKEN}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toContain('error="invalid_token"');
    // A user who is not an administrator, and a wrong password.
    expect((await metrics(guarded, basic(USER, PASSWORD))).status).toBe(403);
    expect((await metrics(guarded, basic("Administrator", "wrong-password"))).status).toBe(401);
    // What the guarded answer says is the same metrics document.
    const text = await (await metrics(guarded, `Bearer ${TOKEN}`)).text();
    expect(text).toContain("conduit_");
    expect(text).not.toContain(TOKEN);
    expect((await admin(guarded, "GET", "/users")).status).toBe(200);
  });

  it("bad settings stop start-up naming the variable", () => {
    expect(loadConfig({ CONDUIT_METRICS_AUTH: "true" }).metrics).toEqual({ auth: true, token: undefined });
    expect(loadConfig({}).metrics).toEqual({ auth: false, token: undefined });
    expect(() => loadConfig({ CONDUIT_METRICS_AUTH: "yes" })).toThrow("CONDUIT_METRICS_AUTH");
    expect(() => loadConfig({ CONDUIT_METRICS_TOKEN: "short" })).toThrow("CONDUIT_METRICS_TOKEN");
    expect(() => loadConfig({ CONDUIT_METRICS_TOKEN: TOKEN, CONDUIT_METRICS_AUTH: "false" })).toThrow(
      "CONDUIT_METRICS_AUTH",
    );
  });
});
