import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { ConfigError, loadConfig, type Config } from "../../src/config/index.js";
import { createConduit, type Conduit } from "../../src/conduit.js";
import { buildApp } from "../../src/http/app.js";
import { listen, type Listeners } from "../../src/http/listeners.js";
import { peerCertificate, readTlsMaterial } from "../../src/http/tls.js";
import { logFile, REDACT_PATHS } from "../../src/kernel/logger.js";
import { TestPki, type Identity } from "../support/pki.js";
import { ADMIN_PASSWORD, basic } from "../support/server.js";

/**
 * The HTTPS listener in process (src/http/listeners.ts, as main.ts uses it): client certificates seen by
 * the application (RFC 8705's building block), the HTTPS rule from a non-loopback peer, HSTS, and the
 * development certificate of `conduit cert dev`. The process-level behaviour (reload, SIGHUP, SIGTERM,
 * bad files at start, CONDUIT_PORT=off) is in test/process/https.test.ts.
 */

interface Running {
  app: FastifyInstance;
  conduit: Conduit;
  listeners: Listeners;
  config: Config;
  http: string | undefined;
  https: string;
  close(): Promise<void>;
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "conduit-https-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function writeIdentity(dir: string, identity: Identity): { cert: string; key: string } {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  writeFileSync(cert, identity.cert);
  writeFileSync(key, identity.key);
  return { cert, key };
}

/** Conduit with the given TLS variables on free ports of 127.0.0.1, plus a route showing the peer certificate. */
async function startHttps(env: Record<string, string>): Promise<Running> {
  const dataDir = tempDir();
  const config = loadConfig({
    CONDUIT_DATA_DIR: dataDir,
    CONDUIT_ADMIN_PASSWORD: ADMIN_PASSWORD,
    CONDUIT_HOST: "127.0.0.1",
    CONDUIT_PORT: "0",
    CONDUIT_HTTPS_PORT: "0",
    CONDUIT_PACKAGES_DIR: join(dataDir, "packages"),
    ...env,
  });
  const log = pino(
    { level: "info", redact: { paths: REDACT_PATHS, censor: "[redacted]" } },
    pino.destination({ dest: logFile(dataDir), sync: true, mkdir: true }),
  );
  const conduit = await createConduit(config, { log, announce: () => undefined });
  const app = await buildApp(conduit);
  // What the RFC 8705 token endpoint builds on: the certificate of the request's connection.
  app.get("/test/peer-certificate", async (request) => {
    const peer = peerCertificate(request.raw.socket);
    return peer
      ? { thumbprint: peer.thumbprint, chained: peer.chained, der: peer.der.length }
      : { none: true };
  });
  const listeners = await listen(app, { config, log });
  const http = listeners.urls.find((u) => u.startsWith("http:"));
  const https = listeners.urls.find((u) => u.startsWith("https:"))!;
  return {
    app,
    conduit,
    listeners,
    config,
    http,
    https,
    close: async () => {
      await app.close();
      await conduit.close();
    },
  };
}

function agent(options: { ca: string; cert?: string; key?: string }): Agent {
  return new Agent({ connect: { ...options, servername: "localhost" } });
}

async function get(url: string, dispatcher?: Agent, headers: Record<string, string> = {}) {
  const res = await request(url, { dispatcher, headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

describe(
  "the HTTPS listener with CONDUIT_TLS_CA (client certificates for RFC 8705)",
  { timeout: 60_000 },
  () => {
    const pki = new TestPki();
    const other = new TestPki("Another CA");
    let server: Running;
    beforeAll(async () => {
      const dir = tempDir();
      const files = writeIdentity(dir, pki.leaf("/CN=localhost", "DNS:localhost,IP:127.0.0.1"));
      const ca = join(dir, "ca.pem");
      writeFileSync(ca, pki.ca.cert);
      server = await startHttps({
        CONDUIT_TLS_CERT: files.cert,
        CONDUIT_TLS_KEY: files.key,
        CONDUIT_TLS_CA: ca,
      });
    });
    afterAll(async () => {
      await server?.close();
      pki.cleanup();
      other.cleanup();
    });

    it("shows the application a client certificate the CA signed, as chained, with its x5t#S256", async () => {
      const client = pki.leaf("/CN=client-a/O=Partner");
      const res = await get(`${server.https}/test/peer-certificate`, agent({ ca: pki.ca.cert, ...client }));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ thumbprint: client.thumbprint, chained: true, der: expect.any(Number) });
    });

    it("lets a self-signed client certificate through, not chained (self_signed_tls_client_auth decides)", async () => {
      const self = pki.selfSigned("self-client");
      const res = await get(`${server.https}/test/peer-certificate`, agent({ ca: pki.ca.cert, ...self }));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ thumbprint: self.thumbprint, chained: false, der: expect.any(Number) });
      // So is one of another CA: reaching the application is not being trusted.
      const stranger = other.leaf("/CN=stranger");
      const res2 = await get(
        `${server.https}/test/peer-certificate`,
        agent({ ca: pki.ca.cert, ...stranger }),
      );
      expect(res2.body).toEqual({ thumbprint: stranger.thumbprint, chained: false, der: expect.any(Number) });
    });

    it("serves a client without a certificate, and plain HTTP, with no peer certificate", async () => {
      const res = await get(`${server.https}/test/peer-certificate`, agent({ ca: pki.ca.cert }));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ none: true });
      const health = await get(`${server.https}/health`, agent({ ca: pki.ca.cert }));
      expect(health.body).toEqual({ status: "ok" });
      expect((await get(`${server.http}/test/peer-certificate`)).body).toEqual({ none: true });
    });
  },
);

describe("HTTPS and the plain HTTP listener side by side", { timeout: 60_000 }, () => {
  const pki = new TestPki();
  let server: Running;
  let tls: Agent;
  beforeAll(async () => {
    const files = writeIdentity(tempDir(), pki.leaf("/CN=localhost", "DNS:localhost,IP:127.0.0.1"));
    server = await startHttps({
      CONDUIT_TLS_CERT: files.cert,
      CONDUIT_TLS_KEY: files.key,
      CONDUIT_HSTS_MAX_AGE: "600",
    });
    tls = agent({ ca: pki.ca.cert });
  });
  afterAll(async () => {
    await server?.close();
    pki.cleanup();
  });

  it("sends Strict-Transport-Security with the configured max-age on every HTTPS answer, never on HTTP", async () => {
    for (const path of ["/health", "/no/such/route", "/invoke/pub.math/randomDouble"]) {
      const secure = await get(`${server.https}${path}`, tls);
      expect(secure.headers["strict-transport-security"]).toBe("max-age=600");
      const plain = await get(`${server.http}${path}`);
      expect(plain.status).toBe(secure.status);
      expect(plain.headers["strict-transport-security"]).toBeUndefined();
    }
  });

  it("counts HTTPS answers in /metrics, through the same application hooks", async () => {
    const count = async () => {
      const res = await request(`${server.http}/metrics`);
      const text = await res.body.text();
      return Number(/conduit_http_requests_total\{status="404"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await count();
    for (let i = 0; i < 3; i++) expect((await get(`${server.https}/nothing/here`, tls)).status).toBe(404);
    expect(await count()).toBe(before + 3);
  });

  it("refuses the OAuth endpoints over plain HTTP from a non-loopback peer, serves them over HTTPS", async () => {
    // The token endpoint with a bad client: past the HTTPS rule it is 401 invalid_client.
    const form = {
      method: "POST" as const,
      url: "/oauth2/token",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basic("nobody", "nothing"),
      },
      payload: "grant_type=client_credentials",
    };
    const remote = await injectFrom(server, "203.0.113.7", form);
    expect(remote.status).toBe(400);
    expect(remote.body).toMatchObject({ error: "invalid_request" });
    expect(remote.body.error_description).toMatch(/HTTPS is required/);
    const loopback = await injectFrom(server, "127.0.0.1", form);
    expect(loopback.status).toBe(401);
    const overTls = await request(`${server.https}/oauth2/token`, {
      method: "POST",
      dispatcher: tls,
      headers: form.headers,
      body: form.payload,
    });
    expect(overTls.statusCode).toBe(401);
    expect(await overTls.body.json()).toMatchObject({ error: "invalid_client" });
  });
});

/** A request as if from `remoteAddress` (light-my-request), through the same application. */
async function injectFrom(
  server: Running,
  remoteAddress: string,
  options: { method: "POST"; url: string; headers: Record<string, string>; payload: string },
) {
  const res = await server.app.inject({ ...options, remoteAddress });
  return { status: res.statusCode, body: res.json() };
}

describe("configuration of HTTPS", () => {
  const base = { CONDUIT_TLS_CERT: "/x/cert.pem", CONDUIT_TLS_KEY: "/x/key.pem" };

  it("defaults: port 5543, HSTS a year, no client certificates; an explicit CONDUIT_PUBLIC_URL wins", () => {
    expect(loadConfig(base).tls).toEqual({
      certFile: "/x/cert.pem",
      keyFile: "/x/key.pem",
      caFile: undefined,
      port: 5543,
      hstsMaxAge: 31536000,
    });
    expect(loadConfig(base).publicUrl).toBe("https://localhost:5543");
    expect(loadConfig({ ...base, CONDUIT_PUBLIC_URL: "http://conduit.internal:8080" }).publicUrl).toBe(
      "http://conduit.internal:8080",
    );
    expect(loadConfig({}).tls).toBeUndefined();
    expect(loadConfig({ ...base, CONDUIT_PORT: "off" }).port).toBeNull();
  });

  it.each([
    [{ CONDUIT_TLS_CERT: "/x/cert.pem" }, "CONDUIT_TLS_KEY"],
    [{ CONDUIT_TLS_KEY: "/x/key.pem" }, "CONDUIT_TLS_CERT"],
    [{ CONDUIT_PORT: "off" }, "CONDUIT_PORT"],
    [{ CONDUIT_HTTPS_PORT: "8443" }, "CONDUIT_HTTPS_PORT"],
    [{ CONDUIT_TLS_CA: "/x/ca.pem" }, "CONDUIT_TLS_CA"],
    [{ ...base, CONDUIT_HTTPS_PORT: "99999" }, "CONDUIT_HTTPS_PORT"],
    [{ ...base, CONDUIT_HTTPS_PORT: "5555" }, "CONDUIT_HTTPS_PORT"],
    [{ ...base, CONDUIT_HSTS_MAX_AGE: "a year" }, "CONDUIT_HSTS_MAX_AGE"],
  ])("refuses %o naming %s", (env, variable) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
  });
});

describe("the certificate files", () => {
  const pki = new TestPki();
  afterAll(() => pki.cleanup());

  it.each([
    ["a missing certificate file", "CONDUIT_TLS_CERT", { cert: "missing" }],
    ["a certificate file that is not PEM", "CONDUIT_TLS_CERT", { cert: "garbage" }],
    ["a PEM block that is not a certificate", "CONDUIT_TLS_CERT", { cert: "broken" }],
    ["a key file that is not PEM", "CONDUIT_TLS_KEY", { key: "garbage" }],
    ["the key of another certificate", "CONDUIT_TLS_KEY", { key: "other" }],
    ["a CA file that is not PEM", "CONDUIT_TLS_CA", { ca: "garbage" }],
  ] as const)(
    "refuses %s, naming %s",
    (_what, variable, bad: { cert?: string; key?: string; ca?: string }) => {
      const dir = tempDir();
      const files = writeIdentity(dir, pki.leaf("/CN=localhost", "DNS:localhost"));
      const texts: Record<string, string> = {
        garbage: "this is not PEM\n",
        broken: "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        other: pki.leaf("/CN=other").key,
      };
      const path = (kind: string | undefined, fallback: string) => {
        if (kind === undefined) return fallback;
        if (kind === "missing") return join(dir, "missing.pem");
        const file = join(dir, `${kind}-${Math.random()}.pem`);
        writeFileSync(file, texts[kind]!);
        return file;
      };
      const ca = join(dir, "ca.pem");
      writeFileSync(ca, pki.ca.cert);
      const config = loadConfig({
        CONDUIT_TLS_CERT: path(bad.cert, files.cert),
        CONDUIT_TLS_KEY: path(bad.key, files.key),
        CONDUIT_TLS_CA: path(bad.ca, ca),
      }).tls!;
      let error: unknown;
      try {
        readTlsMaterial(config);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe(variable);
    },
  );

  it("takes a chain (leaf, then intermediates) and a CA bundle", () => {
    const dir = tempDir();
    const leaf = pki.leaf("/CN=localhost", "DNS:localhost");
    const cert = join(dir, "chain.pem");
    const key = join(dir, "key.pem");
    const ca = join(dir, "ca.pem");
    writeFileSync(cert, leaf.cert + pki.ca.cert);
    writeFileSync(key, leaf.key);
    const second = new TestPki("Second CA");
    writeFileSync(ca, pki.ca.cert + second.ca.cert);
    second.cleanup();
    const material = readTlsMaterial(
      loadConfig({ CONDUIT_TLS_CERT: cert, CONDUIT_TLS_KEY: key, CONDUIT_TLS_CA: ca }).tls!,
    );
    expect(material.leaf.fingerprint256).toBe(leaf.fingerprint256);
  });
});

describe("conduit cert dev", { timeout: 60_000 }, () => {
  it("writes a certificate for localhost into the data dir that a server then serves", async () => {
    const dataDir = tempDir();
    const out: string[] = [];
    const io = {
      out: (t: string) => void out.push(t),
      err: () => undefined,
      env: { CONDUIT_DATA_DIR: dataDir },
      stdin: () => "",
    };
    expect(await run(["cert", "dev"], io)).toBe(0);
    const cert = join(dataDir, "tls", "dev-cert.pem");
    const key = join(dataDir, "tls", "dev-key.pem");
    expect(out.join("")).toContain(`CONDUIT_TLS_CERT=${cert}`);
    expect(out.join("")).toContain(`CONDUIT_TLS_KEY=${key}`);
    // Never overwritten unless asked.
    const again = { ...io, err: (t: string) => void out.push(t) };
    expect(await run(["cert", "dev"], again)).toBe(1);

    const server = await startHttps({ CONDUIT_TLS_CERT: cert, CONDUIT_TLS_KEY: key });
    try {
      const trusted = new Agent({ connect: { ca: readFileSync(cert, "utf8") } });
      const port = new URL(server.https).port;
      for (const host of ["localhost", "127.0.0.1"]) {
        const res = await get(`https://${host}:${port}/health`, trusted);
        expect(res.body).toEqual({ status: "ok" });
      }
    } finally {
      await server.close();
    }
  });
});
