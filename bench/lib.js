// The benchmark harness: start the built server and its references, measure with autocannon, print ratios.
// Speed is only ever measured here, side by side in the same run, never asserted in tests.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import pg from "pg";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const ADMIN_PASSWORD = "bench-admin-password";
export const DURATION = Number(process.env.BENCH_DURATION ?? 10);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
/** The database Conduit runs on in this scenario process (run.js sets it): "sqlite" or "postgres". */
export const DATABASE = process.env.BENCH_DATABASE === "postgres" ? "postgres" : "sqlite";
/** The PostgreSQL server fresh databases are created on (BENCH_DATABASE_URL). */
export const POSTGRES_URL = process.env.BENCH_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
/** The scenario running in this process (scenario.js sets it). */
export const SCENARIO = process.env.BENCH_SCENARIO ?? process.argv[2] ?? "";

/**
 * What this scenario measured, for run.js: every record is appended here and the whole list is written to
 * BENCH_PART (a JSON file run.js reads once this process has exited) at once, so what was measured before
 * a failure is kept.
 */
export const records = { comparisons: [], memory: [], scaling: [], sweep: [] };

/** Adds a record of `kind` (comparisons, memory, scaling, sweep) to this scenario's results. */
export function record(kind, entry) {
  records[kind].push({ scenario: SCENARIO, database: DATABASE, ...entry });
  if (process.env.BENCH_PART) writeFileSync(process.env.BENCH_PART, JSON.stringify(records));
}

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

/** A request whose answer must be 2xx; answers its JSON body (or undefined for an empty one). */
export async function call(url, { method = "POST", headers = {}, body } = {}) {
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
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

/** Conduit processes running now, so that compare() can record their resident memory. */
const conduits = new Set();

/** Resident memory (VmRSS) and its peak (VmHWM) of a process, in kB, from /proc/<pid>/status. */
export function residentMemory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
    return { rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
  } catch {
    return undefined; // not Linux, or the process is gone
  }
}

export const mb = (kb) => (kb === undefined ? "?" : `${(kb / 1024).toFixed(0)} MB`);

/**
 * A new, empty PostgreSQL database on BENCH_DATABASE_URL's server for one Conduit (as the tests do, see
 * test/support/postgres.ts): Conduit migrates it at start, and no run sees another one's rows.
 */
async function freshPostgresDatabase() {
  const name = `conduit_bench_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * BENCH_PROFILE=dir: every Conduit the benchmark starts writes a V8 CPU profile (a .cpuprofile file, for
 * Chrome DevTools or speedscope) into dir when it stops; BENCH_PROFILE_INTERVAL sets the sampling interval
 * in µs (default 1000, V8's). BENCH_CONDUIT_NODE_ARGS adds other Node options, space-separated (e.g.
 * `--perf-basic-prof` for `perf record`).
 */
function profileArgs() {
  const extra = process.env.BENCH_CONDUIT_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return extra;
  const interval = process.env.BENCH_PROFILE_INTERVAL;
  return [
    ...extra,
    "--cpu-prof",
    `--cpu-prof-dir=${dir}`,
    ...(interval ? [`--cpu-prof-interval=${interval}`] : []),
  ];
}

/**
 * Spawns the built server (dist/main.js) in a temp data dir, on SQLite (conduit.sqlite there) or, when this
 * scenario runs on PostgreSQL, on a fresh database of its own; with `tls` ({cert, key} PEM paths) it listens
 * for HTTPS too, at `httpsUrl`. Answers its `pid`, `database` ({kind, file} or {kind, url}) and `memory()`.
 * stop() records and prints its resident memory first.
 */
export async function startConduit({ env = {}, tls } = {}) {
  const postgres = DATABASE === "postgres" ? await freshPostgresDatabase() : undefined;
  const port = await freePort();
  const httpsPort = tls ? await freePort() : undefined;
  const dataDir = mkdtempSync(join(tmpdir(), "conduit-bench-"));
  const url = `http://127.0.0.1:${port}`;
  const tlsEnv = tls
    ? { CONDUIT_TLS_CERT: tls.cert, CONDUIT_TLS_KEY: tls.key, CONDUIT_HTTPS_PORT: String(httpsPort) }
    : {};
  const child = track(
    spawn(process.execPath, [...profileArgs(), join(root, "dist/main.js")], {
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
        DATABASE_URL: postgres?.url ?? "",
        ...tlsEnv,
        ...env,
      },
      stdio: ["ignore", process.env.BENCH_CONDUIT_STDOUT ? "inherit" : "ignore", "inherit"],
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
    if (i > 200 || child.exitCode !== null) {
      child.kill("SIGKILL");
      await postgres?.drop();
      throw new Error("Conduit did not start");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const conduit = {
    url,
    httpsUrl: tls ? `https://127.0.0.1:${httpsPort}` : undefined,
    dataDir,
    pid: child.pid,
    database: postgres
      ? { kind: "postgres", url: postgres.url }
      : { kind: "sqlite", file: join(dataDir, "conduit.sqlite") },
    adminAuth: basic("Administrator", ADMIN_PASSWORD),
    memory: () => residentMemory(child.pid),
    async stop() {
      const memory = residentMemory(child.pid);
      if (memory) {
        console.log(
          `  Conduit resident memory after ${SCENARIO || "the scenario"} (${DATABASE}): ${mb(memory.rssKb)} (peak ${mb(memory.hwmKb)})`,
        );
        record("memory", memory);
      }
      conduits.delete(conduit);
      child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
      await postgres?.drop();
    },
  };
  conduits.add(conduit);
  return conduit;
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

/** The machine's CPU time so far, all cores, in clock ticks: [busy, total] (/proc/stat's first line). */
function cpuTicks() {
  const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  // idle and iowait are not busy.
  return [total - fields[3] - (fields[4] ?? 0), total];
}

export const QUIET_BUSY = Number(process.env.BENCH_QUIET_BUSY ?? 0.15);
export const QUIET_MAX_MS = Number(process.env.BENCH_QUIET_MAX_MS ?? 15_000);

/**
 * Waits until the machine is quiet: less than QUIET_BUSY of its CPU busy over 250 ms (default 15 %), or
 * QUIET_MAX_MS (15 s) at most. What runs on from the measurement before (PostgreSQL's autovacuum and
 * checkpoints after the issuance scenarios' inserts, a checkpoint of SQLite's WAL, a server's garbage
 * collection, a process that is exiting) then does not take CPU from the next one, subject or reference
 * alike: the load generator and the server share the same few cores. Answers how long it waited (ms), or
 * 0 where /proc/stat cannot be read.
 */
export async function waitForQuiet() {
  const started = Date.now();
  let before;
  try {
    before = cpuTicks();
  } catch {
    return 0;
  }
  while (Date.now() - started < QUIET_MAX_MS) {
    await new Promise((r) => setTimeout(r, 250));
    const now = cpuTicks();
    const busy = (now[0] - before[0]) / Math.max(1, now[1] - before[1]);
    before = now;
    if (busy < QUIET_BUSY) break;
  }
  return Date.now() - started;
}

/**
 * Measures one endpoint: requests per second (mean), p99 and max latency in ms, errors and non-2xx answers.
 * `requests` (autocannon's: a `setupRequest` there builds each request anew, e.g. with a token of its own)
 * is passed through. `during()`, when given, is started once the measured run has begun (after the warm-up),
 * and the run goes on until it has settled and for at least one more second (and `duration` in all), so
 * that requests it held up are answered, and counted, inside the run.
 */
export async function measure({
  url,
  method = "GET",
  headers = {},
  body,
  requests,
  duration = DURATION,
  connections = CONNECTIONS,
  during,
}) {
  const options = { url, method, headers, body, connections, ...(requests ? { requests } : {}) };
  const quietAfterMs = await waitForQuiet();
  // A short warm-up so JIT and caches settle before the measured run.
  await autocannon({ ...options, duration: 1 });
  let result;
  let extra;
  if (during) {
    const started = Date.now();
    let instance;
    const finished = new Promise((resolve, reject) => {
      instance = autocannon({ ...options, duration: duration + 600 }, (error, r) =>
        error ? reject(error) : resolve(r),
      );
    });
    extra = await during();
    await new Promise((r) => setTimeout(r, Math.max(1000, started + duration * 1000 - Date.now())));
    instance.stop();
    result = await finished;
  } else {
    result = await autocannon({ ...options, duration });
  }
  return {
    rps: result.requests.average,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    duration: result.duration,
    quietAfterMs,
    ...(extra === undefined ? {} : { during: extra }),
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
 * the per-round ratios too, so the spread is visible. Records every round, the bests, the ratio, the goal
 * (`goal`: the least ratio issue 10 asks for, with `label`, a short name for tables) and the resident
 * memory of the Conduit process after the rounds. Returns the ratio of the bests.
 */
export async function compare(name, subject, reference, { goal, label } = {}) {
  const subjects = [];
  const references = [];
  for (let round = 0; round < ROUNDS; round++) {
    references.push(await measure(reference));
    subjects.push(await measure(subject));
  }
  const best = (results) => results.reduce((a, b) => (b.rps > a.rps ? b : a));
  const perRound = subjects.map((s, i) => s.rps / references[i].rps);
  const r = ratio(name, best(subjects), best(references));
  console.log(
    `  (best of ${ROUNDS} rounds each; per-round ratios: ${perRound.map((x) => x.toFixed(2)).join(", ")})`,
  );
  const waited = [...references, ...subjects].map((m) => m.quietAfterMs);
  if (waited.some((ms) => ms >= 1000))
    console.log(
      `  (waited for a quiet machine before each run: ${waited.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(", ")}; reference and subject alternate)`,
    );
  const memory = [...conduits].map((c) => c.memory()).find(Boolean);
  record("comparisons", {
    name,
    ...(label ? { label } : {}),
    ...(goal ? { goal } : {}),
    subject: { rounds: subjects, best: best(subjects) },
    reference: { rounds: references, best: best(references) },
    ratio: r,
    perRoundRatios: perRound,
    ...(memory ? { conduitMemory: memory } : {}),
  });
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
