import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { keyId } from "../../src/config/keys.js";
import { csrfToken, csrfValid, openTicket, signTicket } from "../../src/oauth/authorize/ticket.js";
import { deriveKeys } from "../../src/oauth/context.js";
import { sha256 } from "../../src/kernel/crypto.js";
import { ManualClock } from "../../src/kernel/clock.js";
import { SecretBox } from "../../src/kernel/secret-box.js";
import { KEY_CHECK_SETTING } from "../../src/storage/key-check.js";
import { admin, form, type Json } from "../oauth/support.js";
import { freshPostgresDatabase } from "../support/postgres.js";
import { ADMIN_PASSWORD, basic, DATABASES, startServer, type TestServer } from "../support/server.js";
import { startFakeIntrospection, type FakeIntrospection } from "../resource/support/fake-introspection.js";

const newKey = () => randomBytes(32).toString("base64");
const kidOf = (key: string) => keyId(Buffer.from(key, "base64"));
const SECRET_VALUE = "global-secret-value-0123456789";
const EXTERNAL_SECRET = "external-secret-0123456789";
const ISSUER = { CONDUIT_PUBLIC_URL: "http://conduit.test" };

async function signIn(server: TestServer) {
  const response = await fetch(`${server.url}/admin/api/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "Administrator", password: ADMIN_PASSWORD }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as Json;
  return {
    cookie: (response.headers.get("set-cookie") ?? "").split(";")[0]!,
    csrfToken: body.csrfToken as string,
  };
}

async function consoleCall(
  server: TestServer,
  method: string,
  path: string,
  session: { cookie: string; csrfToken: string },
  body?: unknown,
) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      cookie: session.cookie,
      "x-csrf-token": session.csrfToken,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Json };
}

interface Client {
  clientId: string;
  clientSecret: string;
}

const tokenFor = (server: TestServer, client: Client) =>
  form(
    `${server.url}/oauth2/token`,
    { grant_type: "client_credentials", scope: "math" },
    { authorization: basic(client.clientId, client.clientSecret) },
  );

const introspect = (server: TestServer, client: Client, token: string) =>
  form(
    `${server.url}/oauth2/introspect`,
    { token },
    { authorization: basic(client.clientId, client.clientSecret) },
  );

async function invoke(server: TestServer, token: string): Promise<number> {
  const response = await fetch(`${server.url}/invoke/pub.math/randomDouble`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await response.arrayBuffer();
  return response.status;
}

async function setAuthorizationServer(server: TestServer, name: string): Promise<void> {
  expect((await admin(server, "PUT", "/oauth/settings", { authorizationServer: name })).status).toBe(200);
}

async function clientRow(server: TestServer, clientId: string) {
  return server.conduit.storage.db
    .selectFrom("oauth_clients")
    .selectAll()
    .where("client_id", "=", clientId)
    .executeTakeFirstOrThrow();
}

/** Every sealed value in the database. */
async function sealedValues(server: TestServer): Promise<string[]> {
  const db = server.conduit.storage.db;
  const external = await db.selectFrom("external_servers").select(["client_secret", "client_key"]).execute();
  const variables = await db.selectFrom("global_variables").select("value").where("secret", "=", 1).execute();
  const signing = await db
    .selectFrom("oauth_signing_keys")
    .select("private_key")
    .where("state", "!=", "previous")
    .execute();
  return [
    ...external.flatMap((r) => [r.client_secret, ...(r.client_key ? [r.client_key] : [])]),
    ...variables.map((r) => r.value),
    ...signing.map((r) => r.private_key),
  ];
}

/** Runs `conduit key …` in process, with the configuration the server has. */
async function cli(args: string[], env: Record<string, string>) {
  let out = "";
  let err = "";
  const code = await run(["key", ...args], {
    out: (text) => (out += text),
    err: (text) => (err += text),
    env,
    stdin: () => "",
  });
  return { code, out, err };
}

describe("conduit key generate", () => {
  it("prints a fresh 32-byte key each time", async () => {
    const first = await cli(["generate"], {});
    const second = await cli(["generate"], {});
    expect(first.code).toBe(0);
    expect(Buffer.from(first.out.trim(), "base64")).toHaveLength(32);
    expect(first.out).not.toBe(second.out);
  });

  it("refuses rotate without the previous key, and unknown sub-commands", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "conduit-key-"));
    try {
      const rotate = await cli(["rotate"], { CONDUIT_DATA_DIR: dataDir, CONDUIT_SECRET_KEY: newKey() });
      expect(rotate.code).toBe(1);
      expect(rotate.err).toMatch(/set CONDUIT_SECRET_KEY_PREVIOUS/);
      expect((await cli(["turn"], {})).code).toBe(2);
      const same = newKey();
      const equal = await cli(["rotate"], {
        CONDUIT_DATA_DIR: dataDir,
        CONDUIT_SECRET_KEY: same,
        CONDUIT_SECRET_KEY_PREVIOUS: same,
      });
      expect(equal.code).toBe(1);
      expect(equal.err).toMatch(/CONDUIT_SECRET_KEY_PREVIOUS: is the same key/);
      // A wrong data dir is refused, not turned into a fresh database (or a fresh key file).
      const nowhere = await cli(["rotate", "--finish"], {
        CONDUIT_DATA_DIR: dataDir,
        CONDUIT_SECRET_KEY: same,
      });
      expect(nowhere.code).toBe(1);
      expect(nowhere.err).toMatch(/no database at .*conduit\.sqlite/);
      const noKey = await cli(["rotate", "--finish"], { CONDUIT_DATA_DIR: dataDir });
      expect(noKey.err).toMatch(/no server key/);
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("authorization tickets and CSRF tokens during a rotation", () => {
  it("a node with K2 and previous K1 accepts what a K1 node signed; a K2-only node does not", () => {
    const [k1, k2] = [randomBytes(32), randomBytes(32)];
    const [s1, s2] = [
      { key: k1, kid: keyId(k1) },
      { key: k2, kid: keyId(k2) },
    ];
    const old = deriveKeys({ current: s1 });
    const rolling = deriveKeys({ current: s2, previous: s1 });
    const nonce = randomBytes(32).toString("base64url");
    const ticket = {
      clientId: "c",
      redirectUri: "https://app.example/cb",
      redirectUriGiven: true,
      scopes: ["math"],
      binding: sha256(nonce),
      expiresAt: Date.now() + 60_000,
    };
    const signed = signTicket(old, ticket);
    expect(openTicket(rolling, signed, nonce, Date.now())).toEqual(ticket);
    expect(openTicket(deriveKeys({ current: s2 }), signed, nonce, Date.now())).toBeUndefined();
    expect(csrfValid(rolling, nonce, csrfToken(old, nonce))).toBe(true);
    expect(csrfValid(deriveKeys({ current: s2 }), nonce, csrfToken(old, nonce))).toBe(false);
  });
});

describe.each(DATABASES)("rotating the server key (%s)", (database) => {
  const K1 = newKey();
  const K2 = newKey();
  let dataDir: string;
  let pg: { url: string; drop: () => Promise<void> } | undefined;
  let fake: FakeIntrospection;
  let where: { dataDir: string; databaseUrl?: string };
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "conduit-rotate-"));
    if (database === "postgres") pg = await freshPostgresDatabase();
    fake = await startFakeIntrospection();
    where = { dataDir, ...(pg ? { databaseUrl: pg.url } : {}) };
    // One issuer across restarts (each restart listens on another port): the JWT's `iss` stays valid.
    env = {
      CONDUIT_DATA_DIR: dataDir,
      CONDUIT_ADMIN_PASSWORD: ADMIN_PASSWORD,
      CONDUIT_LOG_STDOUT: "false",
      ...(pg ? { DATABASE_URL: pg.url } : {}),
    };
  });
  afterAll(async () => {
    await fake?.stop();
    await pg?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The external server's sealed client secret is opened and sent to the introspection endpoint. */
  async function externalSecretOpens(server: TestServer): Promise<void> {
    await setAuthorizationServer(server, "Okta");
    fake.behave({
      kind: "answer",
      body: { active: true, scope: "math", exp: Math.floor(Date.now() / 1000) + 600 },
    });
    expect(await invoke(server, randomBytes(20).toString("base64url"))).toBe(200);
    expect(fake.requests.at(-1)!.authorization).toBe(
      `Basic ${Buffer.from(`rs:${EXTERNAL_SECRET}`).toString("base64")}`,
    );
    await setAuthorizationServer(server, "local");
  }

  it("moves every secret to a new key without breaking clients, tokens or sealed values", async () => {
    // ── K1: the data, the way an installation has them.
    const first = await startServer({ ...where, env: { ...ISSUER, CONDUIT_SECRET_KEY: K1 } });
    let used: Client;
    let unused: Client;
    let registered: { clientId: string; registrationToken: string };
    let jwt: string;
    let session: { cookie: string; csrfToken: string };
    try {
      session = await signIn(first);
      expect(
        (await admin(first, "POST", "/oauth/scopes", { name: "math", values: ["pub.math"] })).status,
      ).toBe(201);
      expect(
        (
          await admin(first, "POST", "/users", {
            username: "runner",
            password: "runner-password-1",
            groups: [],
          })
        ).status,
      ).toBe(201);
      const client = (name: string) =>
        admin(first, "POST", "/oauth/clients", {
          clientName: name,
          type: "confidential",
          grantTypes: ["client_credentials"],
          scopes: ["math"],
          runAsUser: "runner",
          accessTokenFormat: "jwt",
        });
      used = (await client("used")).body as Client;
      unused = (await client("unused")).body as Client;
      expect(used.clientSecret).toBeTruthy();
      expect(
        (
          await admin(first, "POST", "/oauth/external-servers", {
            name: "Okta",
            introspectionEndpoint: fake.url,
            clientId: "rs",
            clientSecret: EXTERNAL_SECRET,
            user: "runner",
            cacheTtlSeconds: 0,
          })
        ).status,
      ).toBe(201);
      expect(
        (await admin(first, "PUT", "/global-variables/apiKey", { value: SECRET_VALUE, secret: true })).status,
      ).toBe(201);
      const iat = await admin(first, "POST", "/oauth/initial-access-tokens", {
        runAsUser: "runner",
        scopes: ["math"],
        grantTypes: ["client_credentials"],
      });
      expect(iat.status).toBe(201);
      const reg = await fetch(`${first.url}/oauth2/register`, {
        method: "POST",
        headers: { authorization: `Bearer ${iat.body.token}`, "content-type": "application/json" },
        body: JSON.stringify({ grant_types: ["client_credentials"], client_name: "registered" }),
      });
      expect(reg.status).toBe(201);
      const regBody = (await reg.json()) as Json;
      registered = { clientId: regBody.client_id, registrationToken: regBody.registration_access_token };

      // A signing key retired by a rotation: its private key is erased, and `key rotate` leaves it so.
      expect((await admin(first, "POST", "/oauth/keys/rotate", {})).status).toBe(200);
      const issued = await tokenFor(first, used);
      expect(issued.status).toBe(200);
      jwt = issued.body.access_token;
      expect(jwt.split(".")).toHaveLength(3);
      expect(await invoke(first, jwt)).toBe(200);
      // A digest from before key ids (no `<kid>:` mark) still verifies under the key it was made with.
      const legacy = (await clientRow(first, unused.clientId)).secret_digest!;
      expect(legacy.startsWith(`${kidOf(K1)}:`)).toBe(true);
      await first.conduit.storage.db
        .updateTable("oauth_clients")
        .set({ secret_digest: legacy.slice(legacy.indexOf(":") + 1) })
        .where("client_id", "=", unused.clientId)
        .execute();
      first.conduit.changes.publish({ kind: "client", key: unused.clientId });
      expect((await tokenFor(first, unused)).status).toBe(200);
      const sealed = await sealedValues(first);
      expect(sealed.length).toBeGreaterThanOrEqual(3);
      for (const value of sealed) expect(value.startsWith(`v2.${kidOf(K1)}.`)).toBe(true);
    } finally {
      await first.close();
    }

    // ── K2 with K1 as the previous key: everything still works, nothing is re-keyed yet.
    const clock = new ManualClock();
    const rolling = { ...ISSUER, CONDUIT_SECRET_KEY: K2, CONDUIT_SECRET_KEY_PREVIOUS: K1 };
    const second = await startServer({ ...where, clock, env: rolling });
    try {
      expect((await tokenFor(second, used)).status).toBe(200);
      expect((await tokenFor(second, unused)).status).toBe(200);
      expect((await tokenFor(second, { clientId: used.clientId, clientSecret: "wrong" })).status).toBe(401);
      await externalSecretOpens(second);
      expect(second.conduit.secretValues.has(SECRET_VALUE)).toBe(true);
      expect(await invoke(second, jwt)).toBe(200);
      expect((await introspect(second, used, jwt)).body.active).toBe(true);
      // The console session opened under K1 goes on (its CSRF token too), and moves to K2.
      expect(
        (await consoleCall(second, "PUT", "/admin/api/global-variables/fromConsole", session, { value: "x" }))
          .status,
      ).toBe(201);
      const current = await consoleCall(second, "GET", "/admin/api/session", session);
      expect(current.status).toBe(200);
      expect(current.body.csrfToken).not.toBe(session.csrfToken);
      session = { ...session, csrfToken: current.body.csrfToken };
      expect(
        (await consoleCall(second, "PUT", "/admin/api/global-variables/fromConsole", session, { value: "y" }))
          .status,
      ).toBe(200);
      // Before `rotate`, digests stay under K1 (nodes still on K1 alone must keep verifying them).
      expect((await clientRow(second, used.clientId)).secret_digest!.startsWith(`${kidOf(K1)}:`)).toBe(true);
      // A node on the old key alone still starts until `rotate` has run.
      const stillOld = await startServer({ ...where, env: { ...ISSUER, CONDUIT_SECRET_KEY: K1 } });
      await stillOld.close();

      // ── rotate: every sealed value moves to K2 in one transaction.
      const rotated = await cli(["rotate"], { ...env, ...rolling });
      expect(rotated.err).toBe("");
      expect(rotated.code).toBe(0);
      expect(rotated.out).toMatch(/Re-sealed [3-9] sealed value\(s\) under the new key/);
      expect(rotated.out).toContain(`${used.clientId} (used): client secret`);
      expect(rotated.out).toContain(`${registered.clientId} (registered): registration access token`);
      for (const value of await sealedValues(second)) expect(value.startsWith(`v2.${kidOf(K2)}.`)).toBe(true);
      const retired = await second.conduit.storage.db
        .selectFrom("oauth_signing_keys")
        .select("private_key")
        .where("state", "=", "previous")
        .execute();
      expect(retired.map((row) => row.private_key)).toEqual([""]);
      // Running it again changes nothing more.
      expect((await cli(["rotate"], { ...env, ...rolling })).out).toMatch(/Re-sealed 0 sealed value\(s\)/);

      // A node with the old key alone, or the new key alone, is refused now.
      await expect(startServer({ ...where, env: { ...ISSUER, CONDUIT_SECRET_KEY: K1 } })).rejects.toThrow(
        /CONDUIT_SECRET_KEY: this server key is not the one the database was set up with.*being rotated out/,
      );
      await expect(startServer({ ...where, env: { ...ISSUER, CONDUIT_SECRET_KEY: K2 } })).rejects.toThrow(
        /a key rotation is in progress/,
      );

      // The running node learns that `rotate` ran (within 10 s) and re-digests on use.
      clock.advance(11_000);
      expect((await tokenFor(second, used)).status).toBe(200);
      expect((await clientRow(second, used.clientId)).secret_digest!.startsWith(`${kidOf(K2)}:`)).toBe(true);
      expect((await tokenFor(second, used)).status).toBe(200);
      const read = await fetch(`${second.url}/oauth2/register/${registered.clientId}`, {
        headers: { authorization: `Bearer ${registered.registrationToken}` },
      });
      expect(read.status).toBe(200);
      const regRow = await clientRow(second, registered.clientId);
      expect(regRow.registration_token_digest!.startsWith(`${kidOf(K2)}:`)).toBe(true);
      expect(regRow.secret_digest!.startsWith(`${kidOf(K1)}:`)).toBe(true);
      expect(await invoke(second, jwt)).toBe(200);
      await externalSecretOpens(second);

      // ── finish refuses while a sealed value is under K1 (a node still on K1 wrote it)…
      const oldBox = new SecretBox({ key: Buffer.from(K1, "base64"), kid: kidOf(K1) });
      await second.conduit.storage.db
        .insertInto("global_variables")
        .values({ name: "late", value: oldBox.seal("late-value"), secret: 1, created_at: 0, updated_at: 0 })
        .execute();
      const sealedRefusal = await cli(["rotate", "--finish"], { ...env, ...rolling });
      expect(sealedRefusal.code).toBe(1);
      expect(sealedRefusal.err).toContain('secret global variable "late"');
      expect((await cli(["rotate"], { ...env, ...rolling })).out).toMatch(/Re-sealed 1 sealed value\(s\)/);

      // …and while a client secret is still under K1 (the client never used since), unless --force.
      const refused = await cli(["rotate", "--finish"], { ...env, ...rolling });
      expect(refused.code).toBe(1);
      expect(refused.err).toContain(`${unused.clientId} (unused): client secret`);
      expect(refused.err).toContain(`${registered.clientId} (registered): client secret`);
      expect(refused.err).not.toContain(`${used.clientId} (used)`);
      expect(refused.err).toContain("--force");
      const check = await second.conduit.storage.db
        .selectFrom("settings")
        .select("value")
        .where("key", "=", KEY_CHECK_SETTING)
        .executeTakeFirstOrThrow();
      expect(JSON.parse(check.value)).toHaveProperty("previous");

      const finished = await cli(["rotate", "--finish", "--force"], { ...env, ...rolling });
      expect(finished.code).toBe(0);
      expect(finished.out).toContain(`${unused.clientId} (unused): client secret`);
      expect(finished.out).toMatch(/need new secrets/);
      expect(finished.out).toMatch(/Retired the previous server key/);
    } finally {
      await second.close();
    }

    // ── K2 alone: everything under K2 works; the old key is refused for good.
    await expect(startServer({ ...where, env: { ...ISSUER, CONDUIT_SECRET_KEY: K1 } })).rejects.toThrow(
      /CONDUIT_SECRET_KEY: this server key is not the one the database was set up with/,
    );
    const third = await startServer({ ...where, env: { ...ISSUER, CONDUIT_SECRET_KEY: K2 } });
    try {
      expect((await tokenFor(third, used)).status).toBe(200);
      expect(await invoke(third, jwt)).toBe(200);
      expect((await introspect(third, used, jwt)).body.active).toBe(true);
      await externalSecretOpens(third);
      expect(third.conduit.secretValues.has(SECRET_VALUE)).toBe(true);
      expect(third.conduit.secretValues.has("late-value")).toBe(true);
      expect(
        (await consoleCall(third, "PUT", "/admin/api/global-variables/fromConsole", session, { value: "z" }))
          .status,
      ).toBe(200);
      const read = await fetch(`${third.url}/oauth2/register/${registered.clientId}`, {
        headers: { authorization: `Bearer ${registered.registrationToken}` },
      });
      expect(read.status).toBe(200);
      // The client forced out needs a new secret, as `--finish --force` said; with one it works again.
      expect((await tokenFor(third, unused)).status).toBe(401);
      const renewed = await admin(third, "POST", `/oauth/clients/${unused.clientId}/secret`, {});
      expect(renewed.status).toBe(200);
      expect(
        (await tokenFor(third, { clientId: unused.clientId, clientSecret: renewed.body.clientSecret }))
          .status,
      ).toBe(200);
      // Nothing left to finish.
      expect((await cli(["rotate", "--finish"], { ...env, CONDUIT_SECRET_KEY: K2 })).out).toMatch(
        /No key rotation in progress/,
      );
    } finally {
      await third.close();
    }
  });
});
