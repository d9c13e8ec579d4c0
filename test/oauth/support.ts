import * as oauth from "oauth4webapi";
import { expect } from "vitest";
import { basic, type TestServer } from "../support/server.js";

/** A parsed JSON answer, read loosely by the tests. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export const USER = "alice";
export const PASSWORD = "alice-password-1";
export const REDIRECT = "https://app.example.com/callback";
export const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** Admin API call as Administrator; answers status and parsed JSON. */
export async function admin(
  server: TestServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${server.url}/admin/api${path}`, {
    method,
    headers: {
      authorization: server.adminAuth,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Scopes `math` (pub.math) and `strings` (pub.string:length), and the user alice. */
export async function seed(server: TestServer): Promise<void> {
  expect(
    (
      await admin(server, "POST", "/oauth/scopes", {
        name: "math",
        description: "Arithmetic",
        values: ["pub.math"],
      })
    ).status,
  ).toBe(201);
  expect(
    (await admin(server, "POST", "/oauth/scopes", { name: "strings", values: ["pub.string:length"] })).status,
  ).toBe(201);
  expect(
    (await admin(server, "POST", "/users", { username: USER, password: PASSWORD, groups: [] })).status,
  ).toBe(201);
}

export interface TestClient {
  clientId: string;
  clientSecret?: string;
}

export async function createClient(server: TestServer, fields: Record<string, unknown>): Promise<TestClient> {
  const response = await admin(server, "POST", "/oauth/clients", {
    clientName: `client-${Math.random().toString(36).slice(2)}`,
    ...fields,
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body as TestClient;
}

/**
 * A new confidential client_credentials client with these scopes, running as `runAsUser`, and an access
 * token issued to it for all of them.
 */
export async function clientCredentialsToken(
  server: TestServer,
  runAsUser: string,
  scopes: string[],
): Promise<{ client: TestClient; token: string }> {
  const client = await createClient(server, {
    type: "confidential",
    grantTypes: ["client_credentials"],
    scopes,
    runAsUser,
  });
  const issued = await form(
    `${server.url}/oauth2/token`,
    { grant_type: "client_credentials", scope: scopes.join(" ") },
    { authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64")}` },
  );
  expect(issued.status, JSON.stringify(issued.body)).toBe(200);
  return { client, token: issued.body.access_token as string };
}

export async function discover(server: TestServer): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(server.url);
  return oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { ...insecure, algorithm: "oauth2" }),
  );
}

/** The value of a hidden (or any) input of a form page. */
export function field(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no field ${name} in page:\n${html}`);
  return match[1]!
    .replace(/&amp;/g, "&")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">");
}

export function cookieOf(response: Response): string {
  const set = response.headers.get("set-cookie");
  if (!set) throw new Error("no cookie set");
  return set.split(";")[0]!;
}

export interface BrowserOptions {
  /** Sign in with Basic credentials on the GET instead of the login form. */
  basicAuth?: boolean;
  decision?: "approve" | "deny";
  /** The scopes left ticked on the approval page (default: all). */
  keep?: string[];
  username?: string;
  password?: string;
}

/**
 * Drives the login and approval pages like a browser without JavaScript: GET the authorization URL, post
 * the login form (or send Basic credentials), post the approval form. Answers the final redirect.
 */
export async function browse(url: URL, options: BrowserOptions = {}): Promise<URL> {
  const username = options.username ?? USER;
  const password = options.password ?? PASSWORD;
  const first = await fetch(url, {
    redirect: "manual",
    headers: {
      accept: "text/html",
      ...(options.basicAuth ? { authorization: basic(username, password) } : {}),
    },
  });
  expect(first.status).toBe(200);
  expect(first.headers.get("x-frame-options")).toBe("DENY");
  expect(first.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  let cookie = cookieOf(first);
  let page = await first.text();
  const action = new URL(/<form method="post" action="([^"]*)"/.exec(page)![1]!, url);
  if (!options.basicAuth) {
    expect(page).toContain('name="password"');
    const login = await fetch(action, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
      body: new URLSearchParams({
        ticket: field(page, "ticket"),
        csrf_token: field(page, "csrf_token"),
        username,
        password,
      }),
    });
    expect(login.status).toBe(200);
    // A sign-in always sets a new cookie (no session fixation); the approval must carry it.
    const rotated = cookieOf(login);
    expect(rotated).not.toBe(cookie);
    cookie = rotated;
    page = await login.text();
  }
  expect(page).toContain("Access Approval");
  const form = new URLSearchParams({ ticket: field(page, "ticket"), csrf_token: field(page, "csrf_token") });
  const offered = [...page.matchAll(/type="checkbox" name="scope" value="([^"]*)"/g)].map((m) => m[1]!);
  for (const scope of options.keep ?? offered) form.append("scope", scope);
  form.append("decision", options.decision ?? "approve");
  const decided = await fetch(action, {
    method: "POST",
    redirect: "manual",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: form,
  });
  expect(decided.status).toBe(303);
  return new URL(decided.headers.get("location")!);
}

/** The authorization URL for a code + PKCE request. */
export async function authorizationUrl(
  as: oauth.AuthorizationServer,
  clientId: string,
  params: Record<string, string>,
): Promise<URL> {
  const url = new URL(as.authorization_endpoint!);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", clientId);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url;
}

export async function pkce(): Promise<{ verifier: string; challenge: string }> {
  const verifier = oauth.generateRandomCodeVerifier();
  return { verifier, challenge: await oauth.calculatePKCECodeChallenge(verifier) };
}

export async function invoke(server: TestServer, service: string, token?: string): Promise<Response> {
  return fetch(`${server.url}/invoke/${service}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

export async function form(
  url: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Json }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(params),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}
