// npm run bench: every scenario, each measuring Conduit and its reference side by side in this one run.
// BENCH_DURATION (seconds per measurement, default 10), BENCH_CONNECTIONS (default 50),
// BENCH_ONLY=name,name to run some scenarios.
import * as lib from "./lib.js";

const scenarios = ["invoke", "external", "oauth"];

const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
console.log(
  `Conduit benchmarks: ${lib.DURATION}s per measurement, ${lib.CONNECTIONS} connections, Node ${process.version}`,
);
for (const name of scenarios) {
  if (only && !only.includes(name)) continue;
  const { default: run } = await import(`./${name}.js`);
  await run(lib);
}
