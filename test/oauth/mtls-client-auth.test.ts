import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createConduit, type Conduit } from "../../src/conduit.js";
import { buildApp } from "../../src/http/app.js";
import { listen } from "../../src/http/listeners.js";
import { logFile, REDACT_PATHS } from "../../src/kernel/logger.js";
import { TestPki, type Identity } from "../support/pki.js";
import { freshPostgresDatabase } from "../support/postgres.js";
import { ADMIN_PASSWORD, basic, DATABASES, type DatabaseKind } from "../support/server.js";

/**
 * RFC 8705 at Conduit's own token endpoint (issue 9): tls_client_auth and self_signed_tls_client_auth,
 * certificate-bound access tokens (cnf.x5t#S256) shown by introspection and checked on /invoke over the
 * HTTPS listener with CONDUIT_TLS_CA (src/http/listeners.ts, as main.ts runs it).
 */

interface Running {
  conduit: Conduit;
  app: FastifyInstance;
  http: string;
  https: string;
  close(): Promise<void>;
}

async function startMtlsConduit(database: DatabaseKind, pki: TestPki): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), "conduit-mtls-"));
  const leaf = pki.leaf("/CN=localhost", "DNS:localhost,IP:127.0.0.1");
  writeFileSync(join(dir, "cert.pem"), leaf.cert);
  writeFileSync(join(dir, "key.pem"), leaf.key);
  writeFileSync(join(dir, "ca.pem"), pki.ca.cert);
  const fresh = database === "postgres" ? await freshPostgresDatabase() : undefined;
  const config = loadConfig({
    CONDUIT_DATA_DIR: dir,
    CONDUIT_ADMIN_PASSWORD: ADMIN_PASSWORD,
    CONDUIT_HOST: "127.0.0.1",
    CONDUIT_PORT: "0",
    CONDUIT_HTTPS_PORT: "0",
    CONDUIT_PACKAGES_DIR: join(dir, "packages"),
    CONDUIT_TLS_CERT: join(dir, "cert.pem"),
    CONDUIT_TLS_KEY: join(dir, "key.pem"),
    CONDUIT_TLS_CA: join(dir, "ca.pem"),
    ...(fresh ? { DATABASE_URL: fresh.url } : {}),
  });
  const log = pino(
    { level: "info", redact: { paths: REDACT_PATHS, censor: "[redacted]" } },
    pino.destination({ dest: logFile(dir), sync: true, mkdir: true }),
  );
  const conduit = await createConduit(config, { log, announce: () => undefined });
  const app = await buildApp(conduit);
  const listeners = await listen(app, { config, log });
  return {
    conduit,
    app,
    http: listeners.urls.find((u) => u.startsWith("http:"))!,
    https: listeners.urls.find((u) => u.startsWith("https:"))!,
    close: async () => {
      await app.close();
      await conduit.close();
      await fresh?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

describe.each(DATABASES)("RFC 8705 mutual TLS at the token endpoint (%s)", (database) => {
  const pki = new TestPki();
  const otherCa = new TestPki("Another CA");
  let server: Running;
  const agents: Agent[] = [];
  /** A TLS client trusting the test CA, presenting `identity` when given (its own connection pool). */
  const tls = (identity?: Identity): Agent => {
    const agent = new Agent({
      connect: {
        ca: pki.ca.cert,
        servername: "localhost",
        ...(identity ? { cert: identity.cert, key: identity.key } : {}),
      },
    });
    agents.push(agent);
    return agent;
  };
  const clientA = pki.leaf("/O=Partner/CN=client-a", "DNS:client-a.partner.test");
  const clientB = pki.leaf("/O=Partner/CN=client-b");
  const impostor = otherCa.leaf("/O=Partner/CN=client-a", "DNS:client-a.partner.test");
  const selfSigned = pki.selfSigned("self-client");
  let withA: Agent;
  const ids: Record<string, string> = {};
  let rsSecret = "";

  const call = async (
    base: "http" | "https",
    path: string,
    options: { method?: string; dispatcher?: Agent; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Answer> => {
    const res = await request(`${base === "http" ? server.http : server.https}${path}`, {
      method: (options.method ?? "GET") as "GET",
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      headers: options.headers ?? {},
      ...(options.body === undefined ? {} : { body: options.body }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : {} };
  };
  const admin = (method: string, path: string, body?: unknown) =>
    call("http", `/admin/api${path}`, {
      method,
      headers: {
        authorization: basic("Administrator", ADMIN_PASSWORD),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const token = (dispatcher: Agent | undefined, form: Record<string, string>, headers = {}) =>
    call(dispatcher ? "https" : "http", "/oauth2/token", {
      method: "POST",
      ...(dispatcher ? { dispatcher } : {}),
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(form).toString(),
    });
  const ccToken = (dispatcher: Agent | undefined, clientId: string) =>
    token(dispatcher, { grant_type: "client_credentials", client_id: clientId, scope: "math" });
  const invoke = (accessToken: string, dispatcher?: Agent) =>
    call(dispatcher ? "https" : "http", "/invoke/pub.math/randomDouble", {
      ...(dispatcher ? { dispatcher } : {}),
      headers: { authorization: `Bearer ${accessToken}` },
    });
  const introspect = (value: string) =>
    call("http", "/oauth2/introspect", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basic(ids.rs!, rsSecret),
      },
      body: new URLSearchParams({ token: value }).toString(),
    });

  beforeAll(async () => {
    server = await startMtlsConduit(database, pki);
    withA = tls(clientA);
    expect((await admin("POST", "/oauth/scopes", { name: "math", values: ["pub.math"] })).status).toBe(201);
    const client = async (name: string, extra: Record<string, unknown>) => {
      const created = await admin("POST", "/oauth/clients", {
        clientName: name,
        type: "confidential",
        grantTypes: ["client_credentials"],
        scopes: ["math"],
        runAsUser: "Administrator",
        ...extra,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      ids[name] = created.body.clientId as string;
      return created.body;
    };
    const rs = await client("rs", {});
    rsSecret = rs.clientSecret as string;
    await client("dn", {
      tokenEndpointAuthMethod: "tls_client_auth",
      tlsClientAuthSubjectDn: "CN=client-a, O=Partner",
    });
    await client("san", {
      tokenEndpointAuthMethod: "tls_client_auth",
      tlsClientAuthSanDns: "client-a.partner.test",
    });
    await client("self", {
      tokenEndpointAuthMethod: "self_signed_tls_client_auth",
      tlsClientCertificates: selfSigned.cert,
    });
    await client("bound", { tlsClientCertificateBoundAccessTokens: true });
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await server?.close();
    pki.cleanup();
    otherCa.cleanup();
  });

  test("the admin API registers certificate clients without a secret and shows what they registered", async () => {
    const dn = await admin("GET", `/oauth/clients/${ids.dn}`);
    expect(dn.body).toMatchObject({
      tokenEndpointAuthMethod: "tls_client_auth",
      tlsClientAuthSubjectDn: "CN=client-a, O=Partner",
      tlsClientAuthSanDns: null,
      tlsClientCertificateBoundAccessTokens: false,
    });
    expect(dn.body).not.toHaveProperty("clientSecret");
    const self = await admin("GET", `/oauth/clients/${ids.self}`);
    expect(self.body.tokenEndpointAuthMethod).toBe("self_signed_tls_client_auth");
    expect((self.body.jwks as { keys: Record<string, unknown>[] }).keys[0]).toMatchObject({
      "x5t#S256": selfSigned.thumbprint,
      x5c: [expect.any(String)],
    });
    const rs = await admin("GET", `/oauth/clients/${ids.rs}`);
    expect(rs.body.tokenEndpointAuthMethod).toBe("client_secret_basic");
    const secret = await admin("POST", `/oauth/clients/${ids.dn}/secret`, {});
    expect(secret.status).toBe(400);
  });

  test.each([
    [{ tokenEndpointAuthMethod: "tls_client_auth" }, "tlsClientAuthSubjectDn"],
    [
      {
        tokenEndpointAuthMethod: "tls_client_auth",
        tlsClientAuthSanDns: "a.test",
        tlsClientAuthSanUri: "https://a",
      },
      "tlsClientAuthSanDns",
    ],
    [{ tokenEndpointAuthMethod: "tls_client_auth", tlsClientAuthSanIp: "not-an-ip" }, "tlsClientAuthSanIp"],
    [{ tokenEndpointAuthMethod: "self_signed_tls_client_auth" }, "jwks"],
    [
      { tokenEndpointAuthMethod: "self_signed_tls_client_auth", tlsClientCertificates: "junk" },
      "tlsClientCertificates",
    ],
    [{ tokenEndpointAuthMethod: "self_signed_tls_client_auth", jwks: { keys: [{ kty: "EC" }] } }, "jwks"],
    [{ tokenEndpointAuthMethod: "private_key_jwt" }, "tokenEndpointAuthMethod"],
    [
      {
        type: "public",
        grantTypes: ["authorization_code"],
        redirectUris: ["https://app.test/cb"],
        tokenEndpointAuthMethod: "tls_client_auth",
        tlsClientAuthSanDns: "a.test",
      },
      "tokenEndpointAuthMethod",
    ],
  ])("a bad registration is a 400 naming the field (%j)", async (extra, field) => {
    const answer = await admin("POST", "/oauth/clients", {
      clientName: `bad-${field}-${Math.random()}`,
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "Administrator",
      ...extra,
    });
    expect(answer.status).toBe(400);
    expect(answer.body.field).toBe(field);
  });

  test("the metadata advertises the RFC 8705 methods and certificate-bound tokens", async () => {
    const meta = await call("https", "/.well-known/oauth-authorization-server", { dispatcher: tls() });
    expect(meta.status).toBe(200);
    expect(meta.body.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(["tls_client_auth", "self_signed_tls_client_auth", "client_secret_basic"]),
    );
    expect(meta.body.tls_client_certificate_bound_access_tokens).toBe(true);
  });

  test("tls_client_auth: a certificate of the CA with the registered subject DN gets a bound token", async () => {
    const answer = await ccToken(withA, ids.dn!);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ token_type: "Bearer", scope: "math" });
    const info = await introspect(answer.body.access_token as string);
    expect(info.body).toMatchObject({
      active: true,
      client_id: ids.dn,
      cnf: { "x5t#S256": clientA.thumbprint },
    });
  });

  test("tls_client_auth: no certificate, another subject, another CA, or plain HTTP is invalid_client", async () => {
    for (const dispatcher of [tls(), tls(clientB), tls(impostor), undefined]) {
      const answer = await ccToken(dispatcher, ids.dn!);
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe("invalid_client");
    }
    // A secret is no way in for a certificate client.
    const withSecret = await token(withA, {
      grant_type: "client_credentials",
      client_id: ids.dn!,
      client_secret: "x",
    });
    expect(withSecret.status).toBe(401);
    expect(withSecret.body.error).toBe("invalid_client");
  });

  test("a certificate client authenticates at the introspection endpoint with its certificate too", async () => {
    const value = (await ccToken(withA, ids.dn!)).body.access_token as string;
    const form = new URLSearchParams({ token: value, client_id: ids.dn! }).toString();
    const headers = { "content-type": "application/x-www-form-urlencoded" };
    const answer = await call("https", "/oauth2/introspect", {
      method: "POST",
      dispatcher: withA,
      headers,
      body: form,
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ active: true, cnf: { "x5t#S256": clientA.thumbprint } });
    const refused = await call("https", "/oauth2/introspect", {
      method: "POST",
      dispatcher: tls(clientB),
      headers,
      body: form,
    });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe("invalid_client");
  });

  test("tls_client_auth by SAN DNS", async () => {
    expect((await ccToken(withA, ids.san!)).status).toBe(200);
    expect((await ccToken(tls(clientB), ids.san!)).status).toBe(401);
    expect((await ccToken(tls(impostor), ids.san!)).status).toBe(401);
  });

  test("self_signed_tls_client_auth: the registered certificate by thumbprint, nothing else", async () => {
    const answer = await ccToken(tls(selfSigned), ids.self!);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const info = await introspect(answer.body.access_token as string);
    expect(info.body.cnf).toEqual({ "x5t#S256": selfSigned.thumbprint });
    expect((await ccToken(withA, ids.self!)).status).toBe(401);
    expect((await ccToken(tls(pki.selfSigned("self-client")), ids.self!)).status).toBe(401);
  });

  test("a bound token works on /invoke with its certificate and is refused without it (401 invalid_token)", async () => {
    const bound = (await ccToken(withA, ids.dn!)).body.access_token as string;
    expect((await invoke(bound, withA)).status).toBe(200);
    expect((await invoke(bound, withA)).status).toBe(200); // the same keep-alive connection, remembered
    for (const dispatcher of [tls(), tls(clientB), tls(impostor), tls(selfSigned), undefined]) {
      const refused = await invoke(bound, dispatcher);
      expect(refused.status).toBe(401);
      expect(refused.headers["www-authenticate"]).toMatch(/error="invalid_token"/);
    }
    expect((await invoke(bound, withA)).status).toBe(200);
    // A token without cnf still works on any connection.
    const plain = await token(
      undefined,
      { grant_type: "client_credentials", scope: "math" },
      {
        authorization: basic(ids.rs!, rsSecret),
      },
    );
    expect((await introspect(plain.body.access_token as string)).body).not.toHaveProperty("cnf");
    expect((await invoke(plain.body.access_token as string)).status).toBe(200);
    expect((await invoke(plain.body.access_token as string, tls(clientB))).status).toBe(200);
  });

  test("the per-connection memory never lets a bound token through without its certificate (fails closed)", async () => {
    const bound = (await ccToken(withA, ids.dn!)).body.access_token as string;
    const auth = server.conduit.auth;
    const connection = {};
    const certificateA = { der: Buffer.alloc(0), thumbprint: clientA.thumbprint, chained: true };
    const asA = {
      authorization: `Bearer ${bound}`,
      ip: "127.0.0.1",
      connection,
      clientCertificate: certificateA,
    };
    const principal = await auth.authenticate(asA);
    expect(principal?.method).toBe("bearer");
    // The answer is remembered on the connection (on PostgreSQL while the token store vouches for it)...
    expect(auth.cached(asA)).toBe(principal);
    // ...but never for the same connection without the certificate, or with another one.
    for (const clientCertificate of [undefined, { ...certificateA, thumbprint: clientB.thumbprint }]) {
      const other = { ...asA, clientCertificate };
      expect(auth.cached(other)).toBeUndefined();
      await expect(auth.authenticate(other)).rejects.toMatchObject({ status: 401 });
    }
    // Another connection with nothing remembered, without the certificate.
    await expect(
      auth.authenticate({ authorization: `Bearer ${bound}`, ip: "127.0.0.1", connection: {} }),
    ).rejects.toMatchObject({ status: 401 });
  });

  test("a client asking for bound tokens gets them with any certificate it presents, and none without one", async () => {
    const headers = { authorization: basic(ids.bound!, "wrong") };
    expect((await token(withA, { grant_type: "client_credentials" }, headers)).status).toBe(401);
    const secret = (await admin("POST", `/oauth/clients/${ids.bound}/secret`, {})).body
      .clientSecret as string;
    const good = { authorization: basic(ids.bound!, secret) };
    const self = tls(selfSigned);
    const answer = await token(self, { grant_type: "client_credentials", scope: "math" }, good);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const value = answer.body.access_token as string;
    expect((await introspect(value)).body.cnf).toEqual({ "x5t#S256": selfSigned.thumbprint });
    expect((await invoke(value, self)).status).toBe(200);
    expect((await invoke(value, withA)).status).toBe(401);
    const without = await token(tls(), { grant_type: "client_credentials", scope: "math" }, good);
    expect(without.status).toBe(400);
    expect(without.body.error).toBe("invalid_request");
  });

  test("RFC 7591 registration accepts the certificate methods", async () => {
    const iat = await admin("POST", "/oauth/initial-access-tokens", {});
    expect(iat.status).toBe(201);
    const register = (metadata: Record<string, unknown>, bearer: string) =>
      call("https", "/oauth2/register", {
        method: "POST",
        dispatcher: tls(),
        headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
        body: JSON.stringify(metadata),
      });
    const bad = await register(
      { redirect_uris: ["https://app.test/cb"], token_endpoint_auth_method: "tls_client_auth" },
      iat.body.token as string,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe("invalid_client_metadata");
    const iat2 = await admin("POST", "/oauth/initial-access-tokens", {});
    const jwks = (await admin("GET", `/oauth/clients/${ids.self}`)).body.jwks;
    const registered = await register(
      {
        client_name: "registered-mtls",
        redirect_uris: ["https://app.test/cb"],
        token_endpoint_auth_method: "self_signed_tls_client_auth",
        jwks,
        tls_client_certificate_bound_access_tokens: true,
      },
      iat2.body.token as string,
    );
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    expect(registered.body).toMatchObject({
      token_endpoint_auth_method: "self_signed_tls_client_auth",
      tls_client_certificate_bound_access_tokens: true,
      jwks,
    });
    expect(registered.body).not.toHaveProperty("client_secret");
    const iat3 = await admin("POST", "/oauth/initial-access-tokens", {});
    const dn = await register(
      {
        client_name: "registered-dn",
        redirect_uris: ["https://app.test/cb"],
        token_endpoint_auth_method: "tls_client_auth",
        tls_client_auth_subject_dn: "CN=client-a,O=Partner",
      },
      iat3.body.token as string,
    );
    expect(dn.status).toBe(201);
    expect(dn.body).toMatchObject({ tls_client_auth_subject_dn: "CN=client-a,O=Partner" });
  });
});
