import { randomBytes } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freshPostgresDatabase } from "../support/postgres.js";
import { basic, freePort } from "../support/server.js";

const root = join(import.meta.dirname, "../..");
const tsx = join(root, "node_modules/.bin/tsx");

interface Started {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "conduit-proc-"));
  dirs.push(dir);
  return dir;
}

async function spawnServer(env: Record<string, string>): Promise<Started> {
  const port = env.CONDUIT_PORT ?? String(await freePort());
  const child = spawn(tsx, [join(root, "src/main.ts")], {
    env: {
      ...process.env,
      CONDUIT_HOST: "127.0.0.1",
      CONDUIT_PORT: port,
      CONDUIT_PACKAGES_DIR: join(tempDir(), "packages"),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, url: `http://127.0.0.1:${port}`, stdout: () => stdout, stderr: () => stderr, exit };
}

async function waitHealthy(server: Started): Promise<void> {
  for (let i = 0; i < 900; i++) {
    if (server.child.exitCode !== null) throw new Error(`server exited: ${server.stderr()}`);
    try {
      const res = await fetch(`${server.url}/health`);
      if (res.ok) {
        expect(await res.json()).toEqual({ status: "ok" });
        return;
      }
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("server did not become healthy");
}

describe("the server process", { timeout: 120_000 }, () => {
  it("generates the first Administrator password, prints it once, stores it 0600, and stops on SIGTERM with 0", async () => {
    const dataDir = tempDir();
    const server = await spawnServer({ CONDUIT_DATA_DIR: dataDir, CONDUIT_ADMIN_PASSWORD: "" });
    await waitHealthy(server);

    const file = join(dataDir, "initial-admin-password");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const password = readFileSync(file, "utf8").trim();
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(server.stdout().split(password).length - 1).toBe(1); // printed once
    expect(readFileSync(join(dataDir, "logs", "server.log"), "utf8")).not.toContain(password);

    const res = await fetch(`${server.url}/invoke/pub.math/randomDouble`, {
      headers: { authorization: basic("Administrator", password) },
    });
    expect(res.status).toBe(200);

    server.child.kill("SIGTERM");
    expect(await server.exit).toBe(0);

    // A second start keeps the same Administrator and announces nothing.
    const again = await spawnServer({ CONDUIT_DATA_DIR: dataDir, CONDUIT_ADMIN_PASSWORD: "" });
    await waitHealthy(again);
    expect(again.stdout()).not.toContain(password);
    const ok = await fetch(`${again.url}/invoke/pub.math/randomDouble`, {
      headers: { authorization: basic("Administrator", password) },
    });
    expect(ok.status).toBe(200);
    again.child.kill("SIGTERM");
    expect(await again.exit).toBe(0);
  });

  it("finishes a request in flight before exiting on SIGTERM", async () => {
    const dataDir = tempDir();
    const server = await spawnServer({
      CONDUIT_DATA_DIR: dataDir,
      CONDUIT_ADMIN_PASSWORD: "drain-test-password",
    });
    await waitHealthy(server);
    // A request whose body is still arriving when SIGTERM comes: it is deterministically in flight.
    const body = JSON.stringify({ num1: 40, num2: 2 });
    const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    let answer = "";
    socket.on("data", (d: Buffer) => (answer += d.toString()));
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write(
      `POST /invoke/pub.math/addInts HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic("Administrator", "drain-test-password")}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    server.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    socket.write(body.slice(5));
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('{"value":42}');
    expect(await server.exit).toBe(0);
  });

  it("refuses to start on a bad configuration value, naming the variable", async () => {
    for (const [name, value] of [
      ["CONDUIT_PORT", "not-a-port"],
      ["DATABASE_URL", "mysql://localhost/x"],
      ["CONDUIT_PUBLIC_URL", "ftp://example"],
      ["CONDUIT_ADMIN_PASSWORD", "short"],
    ] as const) {
      const server = await spawnServer({
        CONDUIT_DATA_DIR: tempDir(),
        [name]: value,
        ...(name === "CONDUIT_PORT" ? {} : {}),
      });
      expect(await server.exit).toBe(1);
      expect(server.stderr()).toContain(name);
    }
  });

  it("fails to start after the log is open with one line naming the cause and exit 1, no crash of the logger", async () => {
    const closed = await freePort(); // nothing listens there
    for (const env of [
      { DATABASE_URL: `postgres://127.0.0.1:${closed}/conduit` } as Record<string, string>,
      { CONDUIT_SECRET_KEY: "not-a-key" },
    ]) {
      const server = await spawnServer({ CONDUIT_DATA_DIR: tempDir(), CONDUIT_LOG_STDOUT: "false", ...env });
      expect(await server.exit).toBe(1);
      const name = Object.keys(env)[0]!;
      expect(server.stderr(), name).toMatch(/^conduit: failed to start: .+\n$/);
      expect(server.stderr(), name).not.toMatch(/sonic boom|\n\s+at /);
    }
  });

  it("starts several nodes at once on one PostgreSQL database, migrating safely", async () => {
    const database = await freshPostgresDatabase();
    try {
      const env = {
        DATABASE_URL: database.url,
        CONDUIT_ADMIN_PASSWORD: "cluster-password",
        // Every node of a cluster has the same server key (a node with another refuses to start).
        CONDUIT_SECRET_KEY: randomBytes(32).toString("base64"),
      };
      const nodes = await Promise.all(
        [1, 2, 3].map(() => spawnServer({ ...env, CONDUIT_DATA_DIR: tempDir() })),
      );
      await Promise.all(nodes.map(waitHealthy));
      // A user created on one node can authenticate on every node.
      const created = await fetch(`${nodes[0]!.url}/admin/api/users`, {
        method: "POST",
        headers: {
          authorization: basic("Administrator", "cluster-password"),
          "content-type": "application/json",
        },
        body: JSON.stringify({ username: "shared", password: "shared-password" }),
      });
      expect(created.status).toBe(201);
      for (const node of nodes) {
        const res = await fetch(`${node.url}/invoke/pub.math/randomDouble`, {
          headers: { authorization: basic("shared", "shared-password") },
        });
        expect(res.status).toBe(200);
      }
      // Deleting it on one node refuses it on the others at once (PostgreSQL change feed).
      const deleted = await fetch(`${nodes[1]!.url}/admin/api/users/shared`, {
        method: "DELETE",
        headers: { authorization: basic("Administrator", "cluster-password") },
      });
      expect(deleted.status).toBe(204);
      await new Promise((r) => setTimeout(r, 300)); // NOTIFY delivery between processes
      for (const node of nodes) {
        const res = await fetch(`${node.url}/invoke/pub.math/randomDouble`, {
          headers: { authorization: basic("shared", "shared-password") },
        });
        expect(res.status).toBe(401);
      }
      for (const node of nodes) node.child.kill("SIGTERM");
      expect(await Promise.all(nodes.map((n) => n.exit))).toEqual([0, 0, 0]);
    } finally {
      await database.drop();
    }
  });
});
