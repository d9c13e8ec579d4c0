import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminOperations } from "../../src/http/admin-resources.js";
import { POSTMAN_FILES, postmanCollection, postmanEnvironment, postmanText } from "../../src/http/postman.js";
import { ADMIN_PASSWORD, startServer, type TestServer } from "../support/server.js";

/**
 * docs/postman/: up to date with the document, in Postman's v2.1 format, and every request of the collection
 * run by newman (Postman's own runner, offline) against a live server, each answering its status.
 */
interface Execution {
  item: { name: string };
  request: { method: string; url: { toString(): string } };
  response?: { code: number };
  assertions?: { assertion: string; error?: { message: string } }[];
}
interface Summary {
  run: { executions: Execution[]; failures: { error: { message: string }; source?: { name?: string } }[] };
}
type Newman = {
  run(options: object, callback: (error: Error | null, summary: Summary) => void): void;
};
const newman = createRequire(import.meta.url)("newman") as Newman;

type Item = {
  name: string;
  item?: Item[];
  request?: { method: string; url: { path: string[] } };
  event?: { script: { exec: string[] } }[];
};
const collection = JSON.parse(readFileSync(POSTMAN_FILES.collection, "utf8")) as {
  item: Item[];
  info: { schema: string };
};
const requests = (items: Item[]): Item[] => items.flatMap((i) => (i.item ? requests(i.item) : [i]));
const expectedOf = (item: Item): number[] =>
  JSON.parse(/^const expected = (\[[\d, ]+\]);$/.exec(item.event![0]!.script.exec[0]!)![1]!) as number[];

describe("docs/postman", () => {
  it("is what `npm run postman` generates from the document now (v2.1 format)", () => {
    expect(readFileSync(POSTMAN_FILES.collection, "utf8")).toBe(postmanText(postmanCollection()));
    expect(readFileSync(POSTMAN_FILES.environment, "utf8")).toBe(postmanText(postmanEnvironment()));
    expect(collection.info.schema).toBe(
      "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
    );
    expect(collection.item[0]!.name).toBe("1. The article's walk");
  });

  it("has a request for every operation of the admin API", () => {
    const sent = new Set(
      requests(collection.item).map((r) =>
        `${r.request!.method} /${r.request!.url.path.join("/")}`.replace(/\{\{\w+\}\}/g, "{}"),
      ),
    );
    for (const op of adminOperations())
      expect(sent, `${op.method} ${op.path}`).toContain(`${op.method} ${op.path.replace(/\{\w+\}/g, "{}")}`);
  });
});

describe("the Postman collection against a live server (newman)", () => {
  let server: TestServer;
  let packagesDir: string;

  beforeAll(async () => {
    packagesDir = mkdtempSync(join(tmpdir(), "conduit-postman-packages-"));
    cpSync(join(process.cwd(), "packages"), packagesDir, { recursive: true });
    server = await startServer({ env: { CONDUIT_PACKAGES_DIR: packagesDir } });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(packagesDir, { recursive: true, force: true });
  });

  const run = () =>
    new Promise<Summary>((resolve, reject) =>
      newman.run(
        {
          collection,
          environment: JSON.parse(readFileSync(POSTMAN_FILES.environment, "utf8")),
          envVar: [
            { key: "baseUrl", value: server.url },
            { key: "adminPassword", value: ADMIN_PASSWORD },
          ],
          reporters: [],
          timeoutRequest: 15_000,
        },
        (error, summary) => (error ? reject(error) : resolve(summary)),
      ),
    );

  it("runs every request in order, each answering its status, twice (it cleans up after itself)", async () => {
    const all = requests(collection.item);
    expect(all.length).toBeGreaterThan(70);
    for (const round of [1, 2]) {
      const summary = await run();
      const failures = summary.run.failures.map((f) => `${f.source?.name}: ${f.error.message}`);
      expect(failures, `round ${round}`).toEqual([]);
      const executions = summary.run.executions;
      expect(executions.map((e) => e.item.name)).toEqual(all.map((r) => r.name));
      executions.forEach((execution, i) => {
        expect(expectedOf(all[i]!), `${execution.item.name}`).toContain(execution.response?.code);
        expect(execution.assertions?.length, execution.item.name).toBeGreaterThan(0);
        for (const a of execution.assertions ?? [])
          expect(a.error, `${execution.item.name}: ${a.assertion}`).toBeUndefined();
      });
    }
    // Every token the collection was issued is revoked, or gone with its client.
    const tokens = await fetch(`${server.url}/admin/api/oauth/tokens?active=true`, {
      headers: { authorization: server.adminAuth },
    });
    expect(((await tokens.json()) as { clientId: string }[]).length).toBe(0);
  });
});
