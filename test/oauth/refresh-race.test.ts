import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oauthOf } from "../../src/oauth/module.js";
import type { TokenRecord } from "../../src/oauth/tokens.js";
import { basic, DATABASES, startServer, type TestServer } from "../support/server.js";
import {
  admin,
  authorizationUrl,
  browse,
  createClient,
  discover,
  form,
  pkce,
  REDIRECT,
  seed,
  type Json,
} from "./support.js";

/**
 * RFC 9700 §4.14.2: when a reuse revokes a refresh token's family while a legitimate rotation of the same
 * family is writing its new tokens, those new tokens must not survive the revocation.
 */
describe.each(DATABASES)("refresh rotation racing a family revocation (%s)", (database) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ database });
    await seed(server);
  });
  afterAll(async () => server.close());

  it("revokes the tokens a rotation wrote while the family was being revoked", async () => {
    const as = await discover(server);
    const client = await createClient(server, {
      type: "confidential",
      redirectUris: [REDIRECT],
      grantTypes: ["authorization_code", "refresh_token"],
      scopes: ["math"],
    });
    const auth = { authorization: basic(client.clientId, client.clientSecret!) };
    const { verifier, challenge } = await pkce();
    const url = await authorizationUrl(as, client.clientId, {
      redirect_uri: REDIRECT,
      scope: "math",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const code = (await browse(url)).searchParams.get("code")!;
    const first = await form(
      `${server.url}/oauth2/token`,
      { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier },
      auth,
    );
    expect(first.status).toBe(200);

    // While the rotation writes its new tokens, a reuse elsewhere revokes the whole family.
    const tokens = oauthOf(server.conduit).server.tokens;
    const insert = tokens.insert.bind(tokens);
    let raced = false;
    tokens.insert = async (records: TokenRecord[]) => {
      const grantId = records[0]?.grantId;
      if (!raced && grantId) {
        raced = true;
        await tokens.revokeGrant(grantId, Date.now());
      }
      return insert(records);
    };
    try {
      const refreshed = await form(
        `${server.url}/oauth2/token`,
        { grant_type: "refresh_token", refresh_token: first.body.refresh_token },
        auth,
      );
      expect(raced).toBe(true);
      expect(refreshed.status).toBe(400);
      expect(refreshed.body.error).toBe("invalid_grant");
    } finally {
      tokens.insert = insert;
    }
    const active = await admin(server, "GET", `/oauth/tokens?clientId=${client.clientId}&active=true`);
    expect(active.status).toBe(200);
    expect((active.body as Json[]).length).toBe(0);
  });
});
