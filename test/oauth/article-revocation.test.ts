import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logFile } from "../../src/kernel/logger.js";
import { basic, startServer, type TestServer } from "../support/server.js";
import { createClient, form, invoke, seed } from "./support.js";

/**
 * The article's "Revoking an Access Token" step, sent exactly as it says: `Authorization: Bearer
 * <base64 of clientId:clientSecret>`, a form with `token` and `token_type_hint`. That is not client
 * authentication (RFC 7009 §2.1, RFC 6749 §2.3.1 want Basic), so it stays refused, but the answer tells the
 * reader what to send instead; the log says it once per client; neither holds the secret.
 */
describe("the article's revocation request", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
    await seed(server);
  });
  afterAll(async () => server.close());

  it("is refused with an error_description that says to use Basic, and the Basic request then works", async () => {
    const client = await createClient(server, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "Administrator",
    });
    const credentials = Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64");
    const issued = await form(
      `${server.url}/oauth2/token`,
      { grant_type: "client_credentials", scope: "math" },
      { authorization: `Basic ${credentials}` },
    );
    expect(issued.status).toBe(200);
    const token = issued.body.access_token as string;

    for (const endpoint of ["/oauth2/revoke", "/oauth2/introspect", "/oauth2/token"]) {
      const answer = await form(
        `${server.url}${endpoint}`,
        endpoint === "/oauth2/token"
          ? { grant_type: "client_credentials", scope: "math" }
          : { token, token_type_hint: "access_token" },
        { authorization: `Bearer ${credentials}` },
      );
      expect(answer.status, endpoint).toBe(401);
      expect(answer.body.error).toBe("invalid_client");
      expect(answer.body.error_description).toContain("Authorization: Basic");
      expect(JSON.stringify(answer.body)).not.toContain(client.clientSecret);
      expect(answer.headers.get("www-authenticate")).toContain("Basic");
    }
    // Refused means refused: the token still works.
    expect((await invoke(server, "pub.math/randomDouble", token)).status).toBe(200);

    // A Bearer value that is not a known client's credentials gets the usual answer, no hint.
    const stranger = await form(
      `${server.url}/oauth2/revoke`,
      { token },
      { authorization: `Bearer ${Buffer.from("nobody:secret").toString("base64")}` },
    );
    expect(stranger.status).toBe(401);
    expect(stranger.body.error_description).not.toContain("Authorization: Basic");

    // What the hint says to do works: 200, and the token is refused at once.
    const revoked = await fetch(`${server.url}/oauth2/revoke`, {
      method: "POST",
      headers: {
        authorization: basic(client.clientId, client.clientSecret!),
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ token, token_type_hint: "access_token" }),
    });
    expect(revoked.status).toBe(200);
    expect((await invoke(server, "pub.math/randomDouble", token)).status).toBe(401);

    // Logged once for this client (three tries above), with its id and never its secret.
    server.conduit.log.flush?.();
    const records = readFileSync(logFile(server.dataDir), "utf8")
      .split("\n")
      .filter((line) => line.includes("oauth_client_credentials_as_bearer"));
    expect(records).toHaveLength(1);
    expect(records[0]).toContain(client.clientId);
    expect(records[0]).not.toContain(client.clientSecret!);
  });
});
