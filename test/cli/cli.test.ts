import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { ADMIN_PASSWORD, basic, startServer, type TestServer } from "../support/server.js";

function io(env: Record<string, string> = {}, stdin = "") {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      out: (t: string) => void out.push(t),
      err: (t: string) => void err.push(t),
      env,
      stdin: () => stdin,
    },
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

describe("conduit CLI against a running server", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => server.close());

  it("prints help with --help and exits 0", async () => {
    const t = io();
    expect(await run(["--help"], t.io)).toBe(0);
    expect(t.out()).toContain("conduit invoke");
    expect(t.out()).toContain("conduit user add");
  });

  it("invokes a service with --input and prints its output", async () => {
    const t = io({ CONDUIT_URL: server.url, CONDUIT_PASSWORD: ADMIN_PASSWORD });
    expect(await run(["invoke", "pub.math:addInts", "--input", '{"num1": 40, "num2": 2}'], t.io)).toBe(0);
    expect(JSON.parse(t.out())).toEqual({ value: 42 });
  });

  it("adds, lists and deletes a user, who can then invoke", async () => {
    const env = { CONDUIT_URL: server.url, CONDUIT_PASSWORD: ADMIN_PASSWORD };
    const add = io(env, "cli-user-password\n");
    expect(await run(["user", "add", "cliuser", "--password-stdin"], add.io)).toBe(0);
    expect(add.out()).toContain("created user cliuser");
    const res = await fetch(`${server.url}/invoke/pub.math/randomDouble`, {
      headers: { authorization: basic("cliuser", "cli-user-password") },
    });
    expect(res.status).toBe(200);

    const list = io(env);
    expect(await run(["user", "list"], list.io)).toBe(0);
    expect(list.out()).toMatch(/^cliuser\tEverybody$/m);

    const del = io(env);
    expect(await run(["user", "delete", "cliuser"], del.io)).toBe(0);
    const again = io(env);
    expect(await run(["user", "delete", "cliuser"], again.io)).toBe(1);
    expect(again.err()).toContain("404");
  });

  it("reports server errors with exit 1 and usage errors with exit 2", async () => {
    const env = { CONDUIT_URL: server.url, CONDUIT_PASSWORD: "wrong-password" };
    const denied = io(env);
    expect(await run(["invoke", "pub.math:randomDouble"], denied.io)).toBe(1);
    expect(denied.err()).toContain("401");

    for (const argv of [
      ["invoke"],
      ["invoke", "not a name"],
      ["invoke", "pub.math:randomDouble", "--input", "[1]"],
      ["frobnicate"],
      ["user", "add", "x"],
    ]) {
      const t = io({ CONDUIT_URL: server.url });
      expect(await run(argv, t.io), argv.join(" ")).toBe(2);
      expect(t.err()).toContain("conduit --help");
    }
  });

  it("says clearly when the server cannot be reached", async () => {
    const t = io({ CONDUIT_URL: "http://127.0.0.1:1", CONDUIT_PASSWORD: "x" });
    expect(await run(["invoke", "pub.math:randomDouble"], t.io)).toBe(1);
    expect(t.err()).toContain("cannot reach http://127.0.0.1:1");
  });
});
