import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { sha256 } from "../../src/kernel/crypto.js";
import { opaqueToken, timeOrderedId, tokenDigest } from "../../src/oauth/ids.js";
import { toRow, type TokenRecord } from "../../src/oauth/tokens.js";
import { basic, DATABASES, startServer, type TestServer } from "../support/server.js";
import { createClient, form, seed, USER } from "./support.js";

describe("opaque tokens and their stored keys (src/oauth/ids.ts)", () => {
  it("issues 52 base64url characters: a time prefix, then 256 random bits", () => {
    const before = Date.now();
    const token = opaqueToken();
    expect(token).toMatch(/^[0-9a-z]{9}[A-Za-z0-9_-]{43}$/);
    const issued = parseInt(token.slice(0, 9), 36);
    expect(issued).toBeGreaterThanOrEqual(before);
    expect(issued).toBeLessThanOrEqual(Date.now());
    expect(new Set(Array.from({ length: 1000 }, opaqueToken)).size).toBe(1000);
  });

  it("takes the prefix from the clock at each issuance, within one millisecond and across one", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(1_700_000_000_000);
      const tokens = [opaqueToken(), opaqueToken()];
      vi.setSystemTime(1_700_000_000_001);
      tokens.push(opaqueToken());
      expect(tokens.map((t) => parseInt(t.slice(0, 9), 36))).toEqual([
        1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_001,
      ]);
      expect(timeOrderedId().slice(0, 9)).toBe(tokens[2]!.slice(0, 9));
      vi.setSystemTime(1_600_000_000_000); // a clock set back is followed too
      expect(parseInt(opaqueToken().slice(0, 9), 36)).toBe(1_600_000_000_000);
    } finally {
      vi.useRealTimers();
    }
  });

  it("keys a new token by its prefix and its SHA-256, so that keys of later tokens sort after earlier ones", async () => {
    const first = opaqueToken();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = opaqueToken();
    expect(tokenDigest(first)).toBe(first.slice(0, 9) + sha256(first));
    expect(tokenDigest(first) < tokenDigest(second)).toBe(true);
    // The key holds no more of the token than its prefix.
    expect(tokenDigest(first)).not.toContain(first.slice(9, 20));
  });

  it("keys any other value, a token issued before (43 characters) or a JWT, by its SHA-256 alone", () => {
    const legacy = randomBytes(32).toString("base64url");
    expect(tokenDigest(legacy)).toBe(sha256(legacy));
    const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJ4In0.c2ln";
    expect(tokenDigest(jwt)).toBe(sha256(jwt));
    // 52 characters without a time prefix: not the new form.
    const odd = `_${randomBytes(38).toString("base64url").slice(0, 51)}`;
    expect(odd).toHaveLength(52);
    expect(tokenDigest(odd)).toBe(sha256(odd));
  });
});

describe.each(DATABASES)("tokens of both forms on one server (%s)", (database) => {
  let server: TestServer;
  let auth: string;
  let clientId: string;
  beforeAll(async () => {
    server = await startServer({ database });
    await seed(server);
    const client = await createClient(server, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: USER,
    });
    clientId = client.clientId;
    auth = basic(client.clientId, client.clientSecret!);
  });
  afterAll(() => server.close());

  const introspect = async (token: string) =>
    (await form(`${server.url}/oauth2/introspect`, { token }, { authorization: auth })).body as {
      active: boolean;
    };

  it("finds, serves and revokes a token issued before this form (stored under its plain SHA-256)", async () => {
    const legacy = randomBytes(32).toString("base64url");
    const now = Date.now();
    const record: TokenRecord = {
      id: randomUUID(),
      digest: sha256(legacy),
      kind: "access",
      clientId,
      username: USER,
      scopes: ["math"],
      grantId: randomUUID(),
      issuedAt: now,
      expiresAt: now + 3_600_000,
      revokedAt: undefined,
      refreshCount: 0,
      rotatedAt: undefined,
    };
    await server.conduit.storage.db.insertInto("oauth_tokens").values(toRow(record)).execute();
    expect((await introspect(legacy)).active).toBe(true);
    const invoked = await fetch(`${server.url}/invoke/pub.math/randomDouble`, {
      headers: { authorization: `Bearer ${legacy}` },
    });
    expect(invoked.status).toBe(200);
    expect(
      (await form(`${server.url}/oauth2/revoke`, { token: legacy }, { authorization: auth })).status,
    ).toBe(200);
    expect((await introspect(legacy)).active).toBe(false);
  });

  it("issues tokens of the new form, stored under their time-ordered key", async () => {
    const issued = await form(
      `${server.url}/oauth2/token`,
      { grant_type: "client_credentials", scope: "math" },
      { authorization: auth },
    );
    const token = issued.body.access_token as string;
    expect(token).toMatch(/^[0-9a-z]{9}[A-Za-z0-9_-]{43}$/);
    const row = await server.conduit.storage.db
      .selectFrom("oauth_tokens")
      .select("digest")
      .where("digest", "=", tokenDigest(token))
      .executeTakeFirst();
    expect(row?.digest).toBe(token.slice(0, 9) + sha256(token));
    expect((await introspect(token)).active).toBe(true);
  });
});
