// One benchmark scenario, in a process of its own (see run.js): node bench/scenario.js <name>.
import * as lib from "./lib.js";

const name = process.argv[2];
if (!name || !/^[a-z-]+$/.test(name)) throw new Error("usage: node bench/scenario.js <scenario>");
const { default: run } = await import(`./${name}.js`);
await run(lib);
