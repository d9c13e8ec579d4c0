import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.js";
import { logFile } from "../../src/kernel/logger.js";
import { DATABASES, basic, startServer, type TestServer } from "../support/server.js";
import { PASSWORD, REDIRECT, USER, admin, createClient, form, invoke, seed, type Json } from "./support.js";

describe.each(DATABASES)("OAuth admin API and settings (%s)", (database) => {
  let server: TestServer;
  const clock = new ManualClock(Date.UTC(2030, 0, 1));

  beforeAll(async () => {
    server = await startServer({ database, clock });
    await seed(server);
  });
  afterAll(async () => server?.close());

  async function clientCredentials(scopes = ["math"]) {
    const client = await createClient(server, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes,
      runAsUser: USER,
    });
    const issued = await form(
      `${server.url}/oauth2/token`,
      { grant_type: "client_credentials" },
      { authorization: basic(client.clientId, client.clientSecret!) },
    );
    expect(issued.status).toBe(200);
    return { client, token: issued.body.access_token as string, issued };
  }

  it("is for administrators only", async () => {
    expect((await fetch(`${server.url}/admin/api/oauth/clients`)).status).toBe(401);
    const asUser = await fetch(`${server.url}/admin/api/oauth/clients`, {
      headers: { authorization: basic(USER, PASSWORD) },
    });
    expect(asUser.status).toBe(403);
  });

  it("validates and stores the global settings, naming an unknown authorization server", async () => {
    const initial = await admin(server, "GET", "/oauth/settings");
    expect(initial.body).toMatchObject({
      authorizationServer: "local",
      requireHttps: true,
      authorizationCodeLifetime: 600,
      accessTokenLifetime: 3600,
    });
    const unknown = await admin(server, "PUT", "/oauth/settings", { authorizationServer: "Nowhere" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain("Nowhere");
    expect((await admin(server, "PUT", "/oauth/settings", { accessTokenLifetime: -1 })).status).toBe(400);
    expect((await admin(server, "PUT", "/oauth/settings", { requirePkce: "yes" })).status).toBe(400);
    expect((await admin(server, "PUT", "/oauth/settings", { typo: 1 })).status).toBe(400);
    const updated = await admin(server, "PUT", "/oauth/settings", { accessTokenLifetime: 120 });
    expect(updated.body).toMatchObject({
      accessTokenLifetime: 120,
      authorizationServer: "local",
      requireHttps: true,
    });
    const stored = await server.conduit.repos.settings.get<Record<string, unknown>>("oauth");
    expect(stored).toMatchObject({ accessTokenLifetime: 120 });
    const { issued } = await clientCredentials();
    expect(issued.body.expires_in).toBe(120);
    await admin(server, "PUT", "/oauth/settings", { accessTokenLifetime: 3600 });
  });

  it("refuses scopes naming folders or services that do not exist, and scope names a client still uses", async () => {
    const bad = await admin(server, "POST", "/oauth/scopes", {
      name: "bad",
      values: ["pub.math", "no.such:service", "nofolder"],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.unknown).toEqual(["no.such:service", "nofolder"]);
    expect(
      (await admin(server, "POST", "/oauth/scopes", { name: "math", values: ["pub.math"] })).status,
    ).toBe(409);
    const scope = await admin(server, "POST", "/oauth/scopes", {
      name: "temp",
      values: ["pub.math:addInts"],
    });
    expect(scope.status).toBe(201);
    await createClient(server, { type: "public", redirectUris: [REDIRECT], scopes: ["temp"] });
    expect((await admin(server, "DELETE", "/oauth/scopes/temp")).status).toBe(409);
    const edited = await admin(server, "PUT", "/oauth/scopes/temp", { values: ["pub.math"] });
    expect(edited.body.values).toEqual(["pub.math"]);
  });

  it("keeps client name and version unique as a pair and validates clients", async () => {
    const fields = { clientName: "Pair", type: "public", redirectUris: [REDIRECT], scopes: ["math"] };
    expect((await admin(server, "POST", "/oauth/clients", fields)).status).toBe(201);
    expect((await admin(server, "POST", "/oauth/clients", fields)).status).toBe(409);
    expect((await admin(server, "POST", "/oauth/clients", { ...fields, version: "2.0" })).status).toBe(201);
    const problems: Record<string, unknown>[] = [
      { ...fields, version: "3", redirectUris: ["http://evil.example.com/cb"] },
      { ...fields, version: "4", redirectUris: ["https://a.example/cb#frag"] },
      { ...fields, version: "5", grantTypes: ["implicit"] },
      { ...fields, version: "6", grantTypes: ["client_credentials"], runAsUser: USER },
      { ...fields, version: "7", type: "confidential", grantTypes: ["client_credentials"] },
      { ...fields, version: "8", scopes: ["nope"] },
      { ...fields, version: "9", redirectUris: [] },
    ];
    for (const body of problems) {
      const response = await admin(server, "POST", "/oauth/clients", body);
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
    const list = await admin(server, "GET", "/oauth/clients");
    expect(JSON.stringify(list.body)).not.toMatch(/secret"?:\s*"/i);
  });

  it("lists tokens with filters, never their values, and revokes one by id", async () => {
    const { client, token } = await clientCredentials();
    const listed = await admin(server, "GET", `/oauth/tokens?clientId=${client.clientId}`);
    expect(listed.status).toBe(200);
    expect(listed.body).toHaveLength(1);
    const row = listed.body[0] as Json;
    expect(row).toMatchObject({
      client: client.clientId,
      clientId: client.clientId,
      owner: USER,
      scope: "math",
      type: "access_token",
      revoked: false,
      active: true,
    });
    expect(JSON.stringify(listed.body)).not.toContain(token);
    expect(
      (await admin(server, "GET", `/oauth/tokens?user=${USER}&active=true`)).body.length,
    ).toBeGreaterThanOrEqual(1);
    expect((await admin(server, "GET", "/oauth/tokens?active=maybe")).status).toBe(400);
    expect((await invoke(server, "pub.math/randomDouble", token)).status).toBe(200);
    expect((await admin(server, "DELETE", `/oauth/tokens/${row.id}`)).status).toBe(204);
    expect((await invoke(server, "pub.math/randomDouble", token)).status).toBe(401);
    expect(
      (await admin(server, "GET", `/oauth/tokens?clientId=${client.clientId}&active=false`)).body[0].revoked,
    ).toBe(true);
    expect((await admin(server, "DELETE", "/oauth/tokens/nope")).status).toBe(404);
  });

  it("expires tokens by the clock, and sweeps them on demand, reporting how many", async () => {
    const { token, client } = await clientCredentials();
    const introspect = () =>
      form(
        `${server.url}/oauth2/introspect`,
        { token },
        { authorization: basic(client.clientId, client.clientSecret!) },
      );
    expect((await introspect()).body.active).toBe(true);
    clock.advance(3601_000);
    expect((await invoke(server, "pub.math/randomDouble", token)).status).toBe(401);
    expect((await introspect()).body).toEqual({ active: false });
    const sweep = await fetch(`${server.url}/invoke/pub.oauth/removeExpiredAccessTokens`, {
      headers: { authorization: server.adminAuth },
    });
    const swept = (await sweep.json()) as Json;
    expect(swept.removed).toBeGreaterThanOrEqual(1);
    expect((await admin(server, "GET", `/oauth/tokens?clientId=${client.clientId}`)).body).toEqual([]);
  });

  it("creates initial access tokens shown once, and audits admin actions without secrets", async () => {
    const created = await admin(server, "POST", "/oauth/initial-access-tokens", { expiresIn: 600 });
    expect(created.status).toBe(201);
    expect(typeof created.body.token).toBe("string");
    const listed = await admin(server, "GET", "/oauth/initial-access-tokens");
    expect(JSON.stringify(listed.body)).not.toContain(created.body.token);
    const { client } = await clientCredentials();
    const rotated = await admin(server, "POST", `/oauth/clients/${client.clientId}/secret`, {});
    const log = readFileSync(logFile(server.dataDir), "utf8");
    expect(log).toContain("oauth.client.create");
    expect(log).toContain("oauth.initialAccessToken.create");
    expect(log).not.toContain(created.body.token);
    expect(log).not.toContain(client.clientSecret!);
    expect(log).not.toContain(rotated.body.clientSecret);
  });

  it("requires HTTPS when asked, believing X-Forwarded-Proto only when trusted", async () => {
    const { client } = await clientCredentials();
    const auth = { authorization: basic(client.clientId, client.clientSecret!) };
    const viaProxy = (proto: string) =>
      form(
        `${server.url}/oauth2/token`,
        { grant_type: "client_credentials" },
        { ...auth, "x-forwarded-proto": proto },
      );
    // Loopback is exempt while forwarded headers are not trusted.
    expect((await viaProxy("http")).status).toBe(200);
    await admin(server, "PUT", "/oauth/settings", { trustForwardedProto: true });
    try {
      const refused = await viaProxy("http");
      expect(refused.status).toBe(400);
      expect(refused.body.error).toBe("invalid_request");
      expect((await viaProxy("https")).status).toBe(200);
    } finally {
      await admin(server, "PUT", "/oauth/settings", { trustForwardedProto: false });
    }
  });
});
