import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { Agent, request } from "undici";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { TestPki, type Identity } from "../support/pki.js";
import { basic, freePort } from "../support/server.js";

/**
 * The real server process (src/main.ts) with HTTPS: both listeners, HSTS, the OAuth endpoints and /invoke
 * over TLS, the HTTPS rule on plain HTTP, certificate reload on file change and SIGHUP, bad files at
 * start, CONDUIT_PORT=off, and the drain on SIGTERM over HTTPS.
 */

const root = join(import.meta.dirname, "../..");
const tsx = join(root, "node_modules/.bin/tsx");
const PASSWORD = "https-test-password";
const ADMIN = basic("Administrator", PASSWORD);

const pki = new TestPki();
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
afterAll(() => pki.cleanup());

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "conduit-https-proc-"));
  dirs.push(dir);
  return dir;
}

/** Writes beside and renames into place, as ACME clients do. */
function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.new`, text);
  renameSync(`${path}.new`, path);
}

interface Started {
  child: ChildProcess;
  dataDir: string;
  httpPort: number | undefined;
  httpsPort: number;
  stderr: () => string;
  exit: Promise<number | null>;
}

async function spawnServer(env: Record<string, string>): Promise<Started> {
  const dataDir = env.CONDUIT_DATA_DIR ?? tempDir();
  const httpPort = env.CONDUIT_PORT === "off" ? undefined : await freePort();
  const httpsPort = await freePort();
  const child = spawn(tsx, [join(root, "src/main.ts")], {
    env: {
      ...process.env,
      CONDUIT_HOST: "127.0.0.1",
      CONDUIT_DATA_DIR: dataDir,
      CONDUIT_ADMIN_PASSWORD: PASSWORD,
      CONDUIT_LOG_STDOUT: "false",
      CONDUIT_PACKAGES_DIR: join(dataDir, "packages"),
      CONDUIT_PORT: String(httpPort),
      CONDUIT_HTTPS_PORT: String(httpsPort),
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, dataDir, httpPort, httpsPort, stderr: () => stderr, exit };
}

/** A leaf for localhost and 127.0.0.1 signed by the test CA, written as the two PEM files. */
function certificateFiles(identity: Identity = pki.leaf("/CN=localhost", "DNS:localhost,IP:127.0.0.1")) {
  const dir = tempDir();
  const cert = join(dir, "fullchain.pem");
  const key = join(dir, "privkey.pem");
  writeFileSync(cert, identity.cert + pki.ca.cert); // a chain: leaf, then the CA
  writeFileSync(key, identity.key);
  return { dir, cert, key, identity };
}

const trusting = new Agent({ connect: { ca: pki.ca.cert, servername: "localhost" } });

async function call(
  url: string,
  options: { method?: "GET" | "POST" | "PUT"; headers?: Record<string, string>; body?: string } = {},
) {
  const res = await request(url, { dispatcher: url.startsWith("https:") ? trusting : undefined, ...options });
  const text = await res.body.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.statusCode, headers: res.headers, body: body as any };
}

async function waitHealthy(server: Started): Promise<void> {
  for (let i = 0; i < 900; i++) {
    if (server.child.exitCode !== null) throw new Error(`server exited: ${server.stderr()}`);
    try {
      const res = await call(`https://127.0.0.1:${server.httpsPort}/health`);
      if (res.status === 200) return;
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("server did not become healthy");
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function logRecords(server: Started): any[] {
  const file = join(server.dataDir, "logs", "server.log");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The SHA-256 fingerprint of the certificate the HTTPS port serves now (a new connection each time). */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: "127.0.0.1", servername: "localhost", ca: pki.ca.cert }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? "";
      socket.end();
      resolve(fingerprint);
    });
    socket.once("error", reject);
  });
}

function fingerprintOf(identity: Identity): string {
  return identity.fingerprint256;
}

describe("the server process with HTTPS", { timeout: 120_000 }, () => {
  it("serves /health, the OAuth endpoints and /invoke over HTTPS with HSTS; plain HTTP has none and is refused when it is not secure", async () => {
    const files = certificateFiles();
    const server = await spawnServer({ CONDUIT_TLS_CERT: files.cert, CONDUIT_TLS_KEY: files.key });
    await waitHealthy(server);
    const https = `https://localhost:${server.httpsPort}`;
    const http = `http://127.0.0.1:${server.httpPort}`;

    const health = await call(`${https}/health`);
    expect(health.body).toEqual({ status: "ok" });
    expect(health.headers["strict-transport-security"]).toBe("max-age=31536000");
    const plainHealth = await call(`${http}/health`);
    expect(plainHealth.body).toEqual({ status: "ok" });
    expect(plainHealth.headers["strict-transport-security"]).toBeUndefined();

    // /invoke with Basic over HTTPS.
    const invoked = await call(`${https}/invoke/pub.math/addInts?num1=40&num2=2`, {
      headers: { authorization: ADMIN },
    });
    expect(invoked).toMatchObject({ status: 200, body: { value: 42 } });

    // A client, a client_credentials token over HTTPS, and /invoke with it.
    const json = { authorization: ADMIN, "content-type": "application/json" };
    const scope = await call(`${https}/admin/api/oauth/scopes`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ name: "math", values: ["pub.math"] }),
    });
    expect(scope.status).toBe(201);
    const client = await call(`${https}/admin/api/oauth/clients`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({
        clientName: "reports",
        version: "1.0",
        type: "confidential",
        grantTypes: ["client_credentials"],
        scopes: ["math"],
        runAsUser: "Administrator",
      }),
    });
    expect(client.status).toBe(201);
    const tokenRequest = (headers: Record<string, string> = {}) => ({
      method: "POST" as const,
      headers: {
        authorization: basic(client.body.clientId, client.body.clientSecret),
        "content-type": "application/x-www-form-urlencoded",
        ...headers,
      },
      body: "grant_type=client_credentials&scope=math",
    });
    const token = await call(`${https}/oauth2/token`, tokenRequest());
    expect(token.status).toBe(200);
    expect(token.headers["strict-transport-security"]).toBe("max-age=31536000");
    expect(token.body).toMatchObject({ token_type: "Bearer", scope: "math" });
    const withToken = await call(`${https}/invoke/pub.math/randomDouble`, {
      headers: { authorization: `Bearer ${token.body.access_token}` },
    });
    expect(withToken.status).toBe(200);
    expect(typeof withToken.body.number).toBe("number");

    // The metadata names the HTTPS endpoints, even when read over plain HTTP.
    const metadata = await call(`${http}/.well-known/oauth-authorization-server`);
    expect(metadata.body.issuer).toBe(`https://localhost:${server.httpsPort}`);
    expect(metadata.body.token_endpoint).toBe(`https://localhost:${server.httpsPort}/oauth2/token`);

    // Plain HTTP that is not secure is refused. The test's peer is loopback (exempt, so local use works);
    // behind a proxy that says the original request was plain HTTP, it is not: the same refusal a
    // non-loopback peer gets (test/http/https.test.ts makes one with a non-loopback remote address).
    const settings = await call(`${https}/admin/api/oauth/settings`, {
      method: "PUT",
      headers: json,
      body: JSON.stringify({ trustForwardedProto: true }),
    });
    expect(settings.status).toBe(200);
    const refused = await call(`${http}/oauth2/token`, tokenRequest({ "x-forwarded-proto": "http" }));
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: "invalid_request" });
    expect(refused.body.error_description).toMatch(/HTTPS is required/);
    // The TLS connection itself wins over what a header says.
    expect((await call(`${https}/oauth2/token`, tokenRequest({ "x-forwarded-proto": "http" }))).status).toBe(
      200,
    );
    expect((await call(`${http}/oauth2/token`, tokenRequest({ "x-forwarded-proto": "https" }))).status).toBe(
      200,
    );

    server.child.kill("SIGTERM");
    expect(await server.exit).toBe(0);
  });

  it("serves HTTPS alone with CONDUIT_PORT=off, and finishes an HTTPS request in flight on SIGTERM", async () => {
    const files = certificateFiles();
    const server = await spawnServer({
      CONDUIT_PORT: "off",
      CONDUIT_TLS_CERT: files.cert,
      CONDUIT_TLS_KEY: files.key,
    });
    await waitHealthy(server);
    const started = logRecords(server).find((r) => r.event === "started");
    expect(started.listening).toEqual([`https://127.0.0.1:${server.httpsPort}`]);
    // The process listens on that one port and no other.
    const listening = execFileSync("ss", ["-Hltnp"], { encoding: "utf8" })
      .split("\n")
      .filter((line) => line.includes(`pid=${started.pid},`))
      .map((line) => Number(/:(\d+)\s/.exec(line)?.[1]));
    expect(listening).toEqual([server.httpsPort]);

    // A request whose body is still arriving when SIGTERM comes is answered, then the process exits 0.
    const body = JSON.stringify({ num1: 40, num2: 2 });
    const socket = tlsConnect({
      port: server.httpsPort,
      host: "127.0.0.1",
      servername: "localhost",
      ca: pki.ca.cert,
    });
    await new Promise<void>((resolve) => socket.once("secureConnect", resolve));
    let answer = "";
    socket.on("data", (d: Buffer) => (answer += d.toString()));
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write(
      `POST /invoke/pub.math/addInts HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${ADMIN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    server.child.kill("SIGTERM");
    // The server is closing while the body is still arriving; the connection is keep-alive (no
    // `Connection: close`): after its answer the drain must end it, well before the shutdown timeout.
    await until("the server to start closing", () => logRecords(server).find((r) => r.event === "stopping"));
    socket.write(body.slice(5));
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toMatch(/strict-transport-security: max-age=31536000/i);
    expect(answer).toContain('{"value":42}');
    expect(await server.exit).toBe(0);
  });

  it("serves a renewed certificate without a restart, keeps the old one when the new files are bad, and reloads on SIGHUP", async () => {
    const files = certificateFiles();
    const server = await spawnServer({ CONDUIT_TLS_CERT: files.cert, CONDUIT_TLS_KEY: files.key });
    await waitHealthy(server);
    const pid = logRecords(server).find((r) => r.event === "started").pid as number;
    expect(await servedFingerprint(server.httpsPort)).toBe(fingerprintOf(files.identity));

    // Renewal: a new certificate (another serial and CN) and key, each renamed into place.
    const renewed = pki.leaf("/CN=localhost/O=Renewed", "DNS:localhost,IP:127.0.0.1");
    replaceFile(files.key, renewed.key);
    replaceFile(files.cert, renewed.cert + pki.ca.cert);
    await until("the renewed certificate", async () =>
      (await servedFingerprint(server.httpsPort)) === fingerprintOf(renewed) ? true : undefined,
    );
    expect(server.child.exitCode).toBeNull();
    expect(logRecords(server).find((r) => r.event === "started" && r.pid !== pid)).toBeUndefined();
    const reloaded = logRecords(server).find((r) => r.event === "tls_reloaded");
    expect(reloaded.certificate.fingerprint256).toBe(fingerprintOf(renewed));

    // A broken certificate file: the renewed one keeps serving, and the log says why.
    replaceFile(files.cert, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
    const failed = await until("the failed reload", () =>
      logRecords(server).find((r) => r.event === "tls_reload_failed"),
    );
    expect(failed).toMatchObject({ variable: "CONDUIT_TLS_CERT", level: 40 });
    expect(failed.serving.fingerprint256).toBe(fingerprintOf(renewed));
    expect(await servedFingerprint(server.httpsPort)).toBe(fingerprintOf(renewed));
    // A certificate whose key is not the one in the key file: refused too.
    const mismatched = pki.leaf("/CN=localhost/O=Mismatched", "DNS:localhost,IP:127.0.0.1");
    replaceFile(files.cert, mismatched.cert);
    await until("the mismatch to be refused", () =>
      logRecords(server).find((r) => r.event === "tls_reload_failed" && r.variable === "CONDUIT_TLS_KEY"),
    );
    expect(await servedFingerprint(server.httpsPort)).toBe(fingerprintOf(renewed));
    const health = await call(`https://localhost:${server.httpsPort}/health`);
    expect(health.body).toEqual({ status: "ok" });

    // SIGHUP: the files are read at once (before the watcher's debounce), and the process lives on.
    const third = pki.leaf("/CN=localhost/O=Third", "DNS:localhost,IP:127.0.0.1");
    replaceFile(files.key, third.key);
    replaceFile(files.cert, third.cert);
    process.kill(pid, "SIGHUP");
    await until("the SIGHUP reload", async () =>
      (await servedFingerprint(server.httpsPort)) === fingerprintOf(third) ? true : undefined,
    );
    const bySignal = logRecords(server)
      .filter((r) => r.event === "tls_reloaded")
      .at(-1);
    expect(bySignal).toMatchObject({ reason: "SIGHUP" });
    expect(bySignal.certificate.fingerprint256).toBe(fingerprintOf(third));
    expect(server.child.exitCode).toBeNull();
    // Nothing of the key reaches the log.
    const log = readFileSync(join(server.dataDir, "logs", "server.log"), "utf8");
    expect(log).not.toContain("PRIVATE KEY");

    server.child.kill("SIGTERM");
    expect(await server.exit).toBe(0);
  });

  it("refuses to start on a bad certificate or key file with exit 1, naming the variable", async () => {
    // Every kind of bad file is in test/http/https.test.ts; here, that main.ts stops on them.
    const good = certificateFiles();
    const otherKey = join(tempDir(), "other-key.pem");
    writeFileSync(otherKey, pki.leaf("/CN=other").key);
    for (const [variable, env] of [
      ["CONDUIT_TLS_CERT", { CONDUIT_TLS_CERT: join(good.dir, "missing.pem"), CONDUIT_TLS_KEY: good.key }],
      ["CONDUIT_TLS_KEY", { CONDUIT_TLS_CERT: good.cert, CONDUIT_TLS_KEY: otherKey }],
    ] as const) {
      const server = await spawnServer(env);
      expect(await server.exit).toBe(1);
      expect(server.stderr()).toContain(`configuration error: ${variable}`);
      // The message names the file and the reason, never its contents.
      for (const key of [good.identity.key, readFileSync(otherKey, "utf8")])
        expect(server.stderr()).not.toContain(key.split("\n")[1]);
      expect(existsSync(join(server.dataDir, "conduit.sqlite"))).toBe(false); // stopped before the database
    }
  });
});
