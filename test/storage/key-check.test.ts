import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freshPostgresDatabase } from "../support/postgres.js";
import { DATABASES, startServer } from "../support/server.js";

const keyA = () => randomBytes(32).toString("base64");

describe.each(DATABASES)("the server key is checked against the database (%s)", (database) => {
  it("a node with another CONDUIT_SECRET_KEY refuses to start, naming the variable; the same key starts", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "conduit-key-"));
    const pg = database === "postgres" ? await freshPostgresDatabase() : undefined;
    const where = { dataDir, ...(pg ? { databaseUrl: pg.url } : {}) };
    const key = keyA();
    try {
      const first = await startServer({ ...where, env: { CONDUIT_SECRET_KEY: key } });
      // Another node (or a restart) while the first still runs: the key differs, so it must not start.
      await expect(startServer({ ...where, env: { CONDUIT_SECRET_KEY: keyA() } })).rejects.toThrow(
        /CONDUIT_SECRET_KEY: this server key is not the one the database was set up with/,
      );
      // The first node kept serving.
      const health = await fetch(`${first.url}/health`);
      expect(health.status).toBe(200);
      await first.close();
      // The same key starts again, and the data are still readable with it.
      const again = await startServer({ ...where, env: { CONDUIT_SECRET_KEY: key } });
      const users = await fetch(`${again.url}/admin/api/users`, {
        headers: { authorization: again.adminAuth },
      });
      expect(users.status).toBe(200);
      await again.close();
    } finally {
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
