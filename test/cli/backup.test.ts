import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { admin, createClient, form, invoke, PASSWORD, seed, USER } from "../oauth/support.js";
import { basic, startServer, type TestServer } from "../support/server.js";

function io(env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), env, stdin: () => "" },
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

describe("conduit backup", () => {
  const dirs: string[] = [];
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("backs up a running server; the backup restored into a fresh data dir serves the same users and tokens", async () => {
    const server = await startServer();
    servers.push(server);
    await seed(server);
    const client = await createClient(server, {
      type: "confidential",
      grantTypes: ["client_credentials"],
      scopes: ["math"],
      runAsUser: "Administrator",
    });
    const issued = await form(
      `${server.url}/oauth2/token`,
      { grant_type: "client_credentials", scope: "math" },
      { authorization: basic(client.clientId, client.clientSecret!) },
    );
    expect(issued.status).toBe(200);
    const token = issued.body.access_token as string;

    const out = mkdtempSync(join(tmpdir(), "conduit-backup-"));
    dirs.push(out);
    const file = join(out, "conduit-backup.sqlite");
    const t = io({ CONDUIT_DATA_DIR: server.dataDir });
    // Online: the server is running and keeps serving while the backup is taken.
    const [status, during] = await Promise.all([
      run(["backup", file], t.io),
      invoke(server, "pub.math/randomDouble", token),
    ]);
    expect(status, t.err()).toBe(0);
    expect(during.status).toBe(200);
    expect(t.out()).toContain(file);
    expect(existsSync(`${file}.secret.key`)).toBe(true);
    expect(statSync(`${file}.secret.key`).mode & 0o777).toBe(0o600);
    // A second backup to the same file is refused rather than overwriting it.
    expect(await run(["backup", file], io({ CONDUIT_DATA_DIR: server.dataDir }).io)).toBe(1);

    const restoredDir = mkdtempSync(join(tmpdir(), "conduit-restored-"));
    dirs.push(restoredDir);
    mkdirSync(restoredDir, { recursive: true });
    copyFileSync(file, join(restoredDir, "conduit.sqlite"));
    copyFileSync(`${file}.secret.key`, join(restoredDir, "secret.key"));
    const restored = await startServer({ dataDir: restoredDir });
    servers.push(restored);
    // The same user, the same token, the same client secret.
    const asAlice = await fetch(`${restored.url}/invoke/pub.math/addInts?num1=1&num2=2`, {
      headers: { authorization: basic(USER, PASSWORD) },
    });
    expect(asAlice.status).toBe(200);
    expect((await invoke(restored, "pub.math/randomDouble", token)).status).toBe(200);
    const again = await form(
      `${restored.url}/oauth2/token`,
      { grant_type: "client_credentials", scope: "math" },
      { authorization: basic(client.clientId, client.clientSecret!) },
    );
    expect(again.status).toBe(200);
    expect(
      (await admin(restored, "GET", "/oauth/scopes")).body.map((s: { name: string }) => s.name),
    ).toContain("math");
  });

  it("refuses on PostgreSQL and names pg_dump; needs one file argument", async () => {
    const pg = io({ DATABASE_URL: "postgres://127.0.0.1:5432/test" });
    expect(await run(["backup", "/tmp/x.sqlite"], pg.io)).toBe(1);
    expect(pg.err()).toContain("pg_dump");
    const usage = io({});
    expect(await run(["backup"], usage.io)).toBe(2);
  });
});
