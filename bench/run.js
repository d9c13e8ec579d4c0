// npm run bench: every scenario, each measuring Conduit and its reference side by side in this one run.
// BENCH_DURATION (seconds per measurement, default 10), BENCH_CONNECTIONS (default 50), BENCH_ROUNDS
// (default 3), BENCH_ONLY=name,name to run some scenarios.
//
// Each scenario runs in a load-generator process of its own, so that what one scenario leaves behind in
// the load generator (its heap, its connections) cannot slow the next one's measurements.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as lib from "./lib.js";

const scenarios = ["invoke", "https", "external", "oauth"];

const here = dirname(fileURLToPath(import.meta.url));
const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
console.log(
  `Conduit benchmarks: ${lib.DURATION}s per measurement, ${lib.CONNECTIONS} connections, ${lib.ROUNDS} rounds, Node ${process.version}`,
);
let failed = false;
for (const name of scenarios) {
  if (only && !only.includes(name)) continue;
  const result = spawnSync(process.execPath, [join(here, "scenario.js"), name], { stdio: "inherit" });
  if (result.status !== 0) {
    console.error(`scenario ${name} failed (exit ${result.status ?? result.signal})`);
    failed = true;
  }
}
process.exitCode = failed ? 1 : 0;
