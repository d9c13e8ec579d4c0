// The benchmark harness: start the built server and its references, measure with autocannon, print ratios.
// Speed is only ever measured here, side by side in the same run, never asserted in tests.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const ADMIN_PASSWORD = "bench-admin-password";
export const DURATION = Number(process.env.BENCH_DURATION ?? 10);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

/** Every process a scenario starts is ended with the benchmark, whatever happens to the scenario. */
const children = new Set();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

function track(child) {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

export function basic(username, password) {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Spawns the built server (dist/main.js) with SQLite in a temp data dir; with `tls` ({cert, key} PEM
 * paths) it listens for HTTPS too, at `httpsUrl`.
 */
export async function startConduit({ env = {}, tls } = {}) {
  const port = await freePort();
  const httpsPort = tls ? await freePort() : undefined;
  const dataDir = mkdtempSync(join(tmpdir(), "conduit-bench-"));
  const url = `http://127.0.0.1:${port}`;
  const tlsEnv = tls
    ? { CONDUIT_TLS_CERT: tls.cert, CONDUIT_TLS_KEY: tls.key, CONDUIT_HTTPS_PORT: String(httpsPort) }
    : {};
  const child = track(
    spawn(process.execPath, [join(root, "dist/main.js")], {
      env: {
        ...process.env,
        CONDUIT_PORT: String(port),
        CONDUIT_HOST: "127.0.0.1",
        CONDUIT_PUBLIC_URL: url,
        CONDUIT_DATA_DIR: dataDir,
        CONDUIT_ADMIN_PASSWORD: ADMIN_PASSWORD,
        CONDUIT_LOG_STDOUT: "false",
        CONDUIT_LOG_LEVEL: "warn",
        CONDUIT_PACKAGES_DIR: join(dataDir, "packages"),
        DATABASE_URL: "",
        ...tlsEnv,
        ...env,
      },
      stdio: ["ignore", "ignore", "inherit"],
    }),
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (i > 200 || child.exitCode !== null) throw new Error("Conduit did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    httpsUrl: tls ? `https://127.0.0.1:${httpsPort}` : undefined,
    dataDir,
    adminAuth: basic("Administrator", ADMIN_PASSWORD),
    async stop() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A bare node:http server answering one JSON body, in a process of its own: the reference for /invoke.
 * With `tls` ({cert, key} PEM paths) a bare node:https server instead.
 */
export async function startBare(body, { tls } = {}) {
  const port = await freePort();
  const tlsEnv = tls ? { BARE_TLS_CERT: tls.cert, BARE_TLS_KEY: tls.key } : {};
  const child = track(
    spawn(process.execPath, [join(root, "bench/bare-server.js")], {
      env: { ...process.env, BARE_PORT: String(port), BARE_BODY: JSON.stringify(body), ...tlsEnv },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    }),
  );
  await new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", () => reject(new Error("bare server exited")));
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Measures one endpoint: requests per second (mean), p99 latency in ms, errors and non-2xx answers. */
export async function measure({
  url,
  method = "GET",
  headers = {},
  body,
  duration = DURATION,
  connections = CONNECTIONS,
}) {
  // A short warm-up so JIT and caches settle before the measured run.
  await autocannon({ url, method, headers, body, duration: 1, connections });
  const result = await autocannon({ url, method, headers, body, duration, connections });
  return {
    rps: result.requests.average,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** Prints `name: subject req/s vs reference req/s → ratio` and returns the ratio. */
export function ratio(name, subject, reference) {
  const r = subject.rps / reference.rps;
  const flag =
    subject.non2xx || subject.errors || reference.non2xx || reference.errors
      ? "  (WARNING: errors or non-2xx answers)"
      : "";
  console.log(
    `${name}: ${subject.rps.toFixed(0)} req/s (p99 ${subject.p99} ms) vs ${reference.rps.toFixed(0)} req/s (p99 ${reference.p99} ms) → ratio ${r.toFixed(2)}${flag}`,
  );
  return r;
}

export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/**
 * Measures subject and reference alternately for ROUNDS rounds and compares the best rate of each: on a
 * shared, noisy machine the best round is the one least disturbed by other work, for either side. Prints
 * the per-round ratios too, so the spread is visible. Returns the ratio of the bests.
 */
export async function compare(name, subject, reference) {
  const subjects = [];
  const references = [];
  for (let round = 0; round < ROUNDS; round++) {
    references.push(await measure(reference));
    subjects.push(await measure(subject));
  }
  const best = (results) => results.reduce((a, b) => (b.rps > a.rps ? b : a));
  const perRound = subjects.map((s, i) => (s.rps / references[i].rps).toFixed(2)).join(", ");
  const r = ratio(name, best(subjects), best(references));
  console.log(`  (best of ${ROUNDS} rounds each; per-round ratios: ${perRound})`);
  return r;
}

/**
 * node-oidc-provider (in-memory adapter) in a process of its own (bench/third-party-server.js), with the
 * given clients; answers its issuer, and how many introspection calls it has received.
 */
export async function startThirdParty(clients) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const child = track(
    spawn(process.execPath, [join(root, "bench/third-party-server.js")], {
      env: { ...process.env, THIRD_PARTY_PORT: String(port), THIRD_PARTY_CLIENTS: JSON.stringify(clients) },
      stdio: ["ignore", "ignore", "ignore", "ipc"],
    }),
  );
  await new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", () => reject(new Error("the third-party server (node-oidc-provider) exited")));
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    introspectionUrl: `${issuer}/token/introspection`,
    async introspections() {
      const res = await fetch(`${issuer}/__introspections`);
      return (await res.json()).introspections;
    },
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
