import { createServer, type Server } from "node:http";
import { join } from "node:path";
import Provider from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/server.js";
import { logFile } from "../../src/kernel/logger.js";
import { readFileSync } from "node:fs";
import { startFlowServer, type FlowServer } from "./support.js";

/**
 * The article, end to end: node-oidc-provider plays Okta. A browser-like client signs in and approves at
 * the third party, whose redirect lands on Conduit's /invoke/oauth.examples/redirectEndpoint (the flow of
 * packages/OAuthExamples); the flow exchanges the code with pub.client:http using global variables and
 * answers the token. That token then runs /invoke/pub.math/randomDouble through the external-server check
 * (RFC 7662 introspection at the third party).
 */
const CLIENT = { id: "conduit-redirect", secret: "conduit-redirect-secret-0123456789abcdef" };
const INTROSPECTOR = { id: "conduit-rs", secret: "conduit-rs-secret-0123456789abcdef" };

let conduit: FlowServer;
let thirdParty: Server;
let issuer: string;
let redirectUri: string;

async function startProvider(): Promise<void> {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        redirect_uris: [redirectUri],
        scope: "invoke",
      },
      {
        client_id: INTROSPECTOR.id,
        client_secret: INTROSPECTOR.secret,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      },
    ],
    scopes: ["invoke"],
    features: { devInteractions: { enabled: true }, introspection: { enabled: true } },
    cookies: { keys: ["article-test-cookie-key"] },
    findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id }) }),
    ttl: { AccessToken: 3600, AuthorizationCode: 60, Grant: 3600, Interaction: 600, Session: 3600 },
  });
  const callback = provider.callback();
  thirdParty = createServer((req, res) => void callback(req, res));
  await new Promise<void>((resolve) => thirdParty.listen(port, "127.0.0.1", resolve));
}

/** A minimal browser: follows redirects by hand and keeps the third party's cookies. */
class Browser {
  private readonly cookies = new Map<string, string>();

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<Response> {
    const target = new URL(url);
    const headers: Record<string, string> = { accept: "text/html" };
    if (target.origin === issuer && this.cookies.size > 0)
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    if (init.form) headers["content-type"] = "application/x-www-form-urlencoded";
    const response = await fetch(url, {
      method: init.method ?? "GET",
      headers,
      redirect: "manual",
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    if (target.origin === issuer)
      for (const cookie of response.headers.getSetCookie()) {
        const [pair] = cookie.split(";");
        const eq = pair!.indexOf("=");
        this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1));
      }
    return response;
  }

  /** Follows redirects until a page that is not a redirect, or one that leaves the third party. */
  async follow(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<{ url: string; response: Response }> {
    let current = url;
    let response = await this.request(current, init);
    for (let hops = 0; response.status >= 300 && response.status < 400 && hops < 10; hops += 1) {
      current = new URL(response.headers.get("location")!, current).href;
      if (!current.startsWith(issuer)) return { url: current, response };
      response = await this.request(current);
    }
    return { url: current, response };
  }
}

function formAction(html: string, base: string): string {
  const match = /<form[^>]*action="([^"]+)"/.exec(html);
  if (!match) throw new Error(`no form in ${html.slice(0, 200)}`);
  return new URL(match[1]!.replace(/&amp;/g, "&"), base).href;
}

beforeAll(async () => {
  conduit = await startFlowServer({}, { packagesDir: join(process.cwd(), "packages") });
  redirectUri = `${conduit.url}/invoke/oauth.examples/redirectEndpoint`;
  await startProvider();

  const put = async (name: string, value: string, secret = false) =>
    expect((await conduit.admin("PUT", `/global-variables/${name}`, { value, secret })).status).toBe(201);
  await put("oauthTokenEndpoint", `${issuer}/token`);
  await put("oauthClientId", CLIENT.id);
  await put("oauthClientSecret", CLIENT.secret, true);
  await put("oauthRedirectUri", redirectUri);

  expect(
    (
      await conduit.admin("POST", "/users", {
        username: "partner",
        password: "partner-password-1",
        groups: [],
      })
    ).status,
  ).toBe(201);
  expect(
    (
      await conduit.admin("POST", "/oauth/external-servers", {
        name: "Partner",
        introspectionEndpoint: `${issuer}/token/introspection`,
        clientId: INTROSPECTOR.id,
        clientSecret: INTROSPECTOR.secret,
        user: "partner",
        cacheTtlSeconds: 60,
        timeoutMs: 5000,
      })
    ).status,
  ).toBe(201);
  expect(
    (
      await conduit.admin("POST", "/oauth/scopes", {
        name: "invoke",
        description: "math",
        values: ["pub.math"],
      })
    ).status,
  ).toBe(201);
  expect((await conduit.admin("PUT", "/oauth/settings", { authorizationServer: "Partner" })).status).toBe(
    200,
  );
});

afterAll(async () => {
  await conduit?.close();
  thirdParty?.closeAllConnections();
  await new Promise((resolve) => thirdParty?.close(resolve));
});

describe("the article: a third-party authorization server and Conduit's redirect endpoint", () => {
  let accessToken: string;

  it("signs in and approves at the third party; the redirect endpoint exchanges the code for the token", async () => {
    const browser = new Browser();
    const authorize = new URL(`${issuer}/auth`);
    authorize.search = new URLSearchParams({
      client_id: CLIENT.id,
      response_type: "code",
      scope: "invoke",
      redirect_uri: redirectUri,
      state: "state-123",
    }).toString();

    const login = await browser.follow(authorize.href);
    expect(login.response.status).toBe(200);
    const loginPage = await login.response.text();
    expect(loginPage).toContain('name="login"');
    const consent = await browser.follow(formAction(loginPage, login.url), {
      method: "POST",
      form: { prompt: "login", login: "alice", password: "any" },
    });
    expect(consent.response.status).toBe(200);
    const consentPage = await consent.response.text();
    expect(consentPage).toContain("invoke");
    const redirect = await browser.follow(formAction(consentPage, consent.url), {
      method: "POST",
      form: { prompt: "consent" },
    });

    // The third party sends the browser to Conduit with the code (RFC 6749 §4.1.2).
    expect(redirect.url.startsWith(`${redirectUri}?`)).toBe(true);
    const landing = new URL(redirect.url);
    expect(landing.searchParams.get("state")).toBe("state-123");
    expect(landing.searchParams.get("code")).toBeTruthy();

    // The browser follows it, anonymously: the flow's ACL is Anonymous (from the package manifest).
    const answer = await fetch(redirect.url, { headers: { accept: "application/json" } });
    const text = await answer.text();
    expect(answer.status, text).toBe(200);
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["access_token", "response"]);
    expect(typeof body.response).toBe("string");
    const response = JSON.parse(body.response as string) as Record<string, unknown>;
    expect(response).toMatchObject({ token_type: "Bearer", scope: "invoke" });
    expect(body.access_token).toBe(response.access_token);
    expect(text).not.toContain(CLIENT.secret);
    accessToken = body.access_token as string;
  });

  it("that token runs pub.math:randomDouble through the external-server check", async () => {
    const response = await fetch(`${conduit.url}/invoke/pub.math/randomDouble`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(response.status).toBe(200);
    const { number } = (await response.json()) as { number: number };
    expect(number).toBeGreaterThanOrEqual(0);
    expect(number).toBeLessThan(1);
  });

  it("the token's scope does not cover other services (RFC 6750 §3.1 insufficient_scope)", async () => {
    const response = await fetch(`${conduit.url}/invoke/pub.string/concat`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toMatch(/insufficient_scope/);
  });

  it("a replayed code fails the flow with the token endpoint's error, without the secret", async () => {
    const answer = await fetch(`${redirectUri}?code=not-a-real-code&state=x`);
    const text = await answer.text();
    expect(answer.status).toBe(500);
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(body).toMatchObject({ error: "flow_failure", flow: "oauth.examples:redirectEndpoint" });
    expect(body.message).toContain("the token endpoint answered 400");
    expect(body.message).toContain("invalid_grant");
    expect(text).not.toContain(CLIENT.secret);
  });

  it("the trace of the pipeline and the log never show the client secret", async () => {
    conduit.conduit.log.flush?.();
    const log = readFileSync(logFile(conduit.dataDir), "utf8");
    expect(log).toContain('"event":"trace_pipeline"');
    expect(log).not.toContain(CLIENT.secret);
  });
});
