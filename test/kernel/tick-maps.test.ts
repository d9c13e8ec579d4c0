import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const moduleUrl = pathToFileURL(resolve("src/kernel/tick-maps.ts")).href;
const dir = mkdtempSync(join(tmpdir(), "conduit-tick-maps-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs a script in a Node process of its own with V8's natives syntax and `gc()` (neither is available
 * in the test process), loading TypeScript through tsx; answers what it printed as JSON.
 */
function run(script: string): unknown {
  const file = join(dir, `child-${Math.random().toString(36).slice(2)}.mts`);
  writeFileSync(file, script);
  const out = execFileSync(
    process.execPath,
    ["--allow-natives-syntax", "--expose-gc", "--import", "tsx", file],
    { encoding: "utf8", timeout: 60_000 },
  );
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

describe("the tick object held for nextTick's maps (src/kernel/tick-maps.ts)", () => {
  it("is a tick object of process.nextTick, and tick objects made after full collections share its map", () => {
    const result = run(`
      import { executionAsyncResource } from "node:async_hooks";
      import { pinnedTickObject } from ${JSON.stringify(moduleUrl)};
      const haveSameMap = new Function("a", "b", "return %HaveSameMap(a, b)");
      const tick = () => new Promise((done) => process.nextTick(() => done(executionAsyncResource())));
      await tick();
      const pinned = pinnedTickObject();
      const keys = pinned ? Reflect.ownKeys(pinned).map((k) => typeof k === "symbol" ? k.description : k) : [];
      // Nothing else holds a tick object across these collections.
      for (let i = 0; i < 1000; i++) await tick();
      globalThis.gc(); globalThis.gc();
      const after = await tick();
      console.log(JSON.stringify({ keys, sameMap: pinned !== undefined && haveSameMap(pinned, after) }));
    `);
    expect(result).toEqual({
      keys: ["callback", "args", "async_id_symbol", "trigger_async_id_symbol"],
      sameMap: true,
    });
  });
});
