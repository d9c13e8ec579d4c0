// npm run bench: every scenario, each measuring Conduit and its reference side by side in this one run.
// BENCH_DURATION (seconds per measurement, default 10), BENCH_CONNECTIONS (default 50), BENCH_ROUNDS
// (default 3), BENCH_ONLY=name,name to run some scenarios, BENCH_SCALING=off to leave out the scaling
// scenario (bench/scaling.js, its own settings are described there).
//
// Databases: SQLite by default; BENCH_DATABASE_URL=postgres://… runs every scenario with Conduit on
// PostgreSQL instead (a fresh database on that server for each Conduit), BENCH_DATABASES=sqlite,postgres on
// both, side by side (BENCH_DATABASE_URL defaulting then to postgres://postgres@127.0.0.1:5432/test).
//
// Results: written as JSON to bench/results/<time>.json and bench/results/latest.json (git-ignored), then
// summarised in tables. `--compare old.json` prints the change from an earlier run after this one;
// `--compare old.json new.json` compares two earlier runs without running anything.
//
// Each scenario runs in a load-generator process of its own, so that what one scenario leaves behind in
// the load generator (its heap, its connections) cannot slow the next one's measurements; it writes what it
// measured to a part file that this process merges.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as lib from "./lib.js";
import { comparison, summary } from "./report.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

function parseArgs(argv) {
  const at = argv.indexOf("--compare");
  if (at === -1) return {};
  const files = argv.slice(at + 1).filter((a) => !a.startsWith("--"));
  if (files.length < 1 || files.length > 2)
    throw new Error("usage: bench/run.js [--compare old.json [new.json]]");
  return { compareWith: files[0], compareTo: files[1] };
}

const readResults = (file) => JSON.parse(readFileSync(file, "utf8"));

function databases() {
  const listed = process.env.BENCH_DATABASES?.split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const chosen = listed ?? (process.env.BENCH_DATABASE_URL ? ["postgres"] : ["sqlite"]);
  for (const d of chosen)
    if (d !== "sqlite" && d !== "postgres") throw new Error(`BENCH_DATABASES: unknown database "${d}"`);
  return chosen;
}

function gitCommit() {
  const git = (...args) =>
    execFileSync("git", ["--no-optional-locks", ...args], { cwd: root, encoding: "utf8" });
  try {
    const commit = git("rev-parse", "HEAD").trim();
    return { commit, dirty: git("status", "--porcelain", "--untracked-files=no").trim() !== "" };
  } catch {
    return { commit: undefined, dirty: undefined };
  }
}

function runScenarios(dbs) {
  const scenarios = ["invoke", "https", "external", "oauth"];
  if ((process.env.BENCH_SCALING ?? "on").toLowerCase() !== "off") scenarios.push("scaling");
  const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
  const partDir = mkdtempSync(join(tmpdir(), "conduit-bench-parts-"));
  const results = {
    date: new Date().toISOString(),
    ...gitCommit(),
    node: process.version,
    duration: lib.DURATION,
    connections: lib.CONNECTIONS,
    rounds: lib.ROUNDS,
    databases: dbs,
    failed: [],
    comparisons: [],
    memory: [],
    scaling: [],
    sweep: [],
  };
  try {
    for (const name of scenarios) {
      if (only && !only.includes(name)) continue;
      for (const database of dbs) {
        if (dbs.length > 1) console.log(`\n[${name} on ${database}]`);
        const part = join(partDir, `${name}-${database}.json`);
        const result = spawnSync(process.execPath, [join(here, "scenario.js"), name], {
          stdio: "inherit",
          env: { ...process.env, BENCH_SCENARIO: name, BENCH_DATABASE: database, BENCH_PART: part },
        });
        if (result.status !== 0) {
          console.error(`scenario ${name} on ${database} failed (exit ${result.status ?? result.signal})`);
          results.failed.push({ scenario: name, database });
        }
        try {
          const measured = readResults(part);
          for (const kind of ["comparisons", "memory", "scaling", "sweep"])
            results[kind].push(...measured[kind]);
        } catch {
          // the scenario failed before measuring anything
        }
      }
    }
  } finally {
    rmSync(partDir, { recursive: true, force: true });
  }
  return results;
}

function save(results) {
  const dir = join(here, "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${results.date.replace(/[:.]/g, "-")}.json`);
  const text = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(file, text);
  writeFileSync(join(dir, "latest.json"), text);
  return file;
}

const args = parseArgs(process.argv.slice(2));
if (args.compareTo) {
  console.log(comparison(readResults(args.compareWith), readResults(args.compareTo)));
} else {
  const before = args.compareWith ? readResults(args.compareWith) : undefined;
  const dbs = databases();
  console.log(
    `Conduit benchmarks: ${lib.DURATION}s per measurement, ${lib.CONNECTIONS} connections, ${lib.ROUNDS} rounds, Node ${process.version}, ${dbs.join(" and ")}`,
  );
  const results = runScenarios(dbs);
  const file = save(results);
  console.log(`\n${summary(results)}`);
  console.log(`\nResults: ${file} (and bench/results/latest.json)`);
  if (before) console.log(`\n${comparison(before, results)}`);
  process.exitCode = results.failed.length > 0 ? 1 : 0;
}
