import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logFile } from "../../src/kernel/logger.js";
import { freshPostgresDatabase } from "../support/postgres.js";
import { DATABASES, startServer, type TestServer } from "../support/server.js";
import { writePackage, flowPackage } from "./support.js";

const SECRET = "s3cr3t-value-for-global-variable-tests";

describe.each(DATABASES)("global variables on %s", (database) => {
  const dataDir = mkdtempSync(join(tmpdir(), "conduit-gv-"));
  const packagesDir = join(dataDir, "packages");
  let databaseUrl: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  let server: TestServer;

  const start = () =>
    startServer({
      dataDir,
      ...(databaseUrl ? { databaseUrl } : {}),
      env: { CONDUIT_PACKAGES_DIR: packagesDir },
    });
  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.url}/admin/api/global-variables${path}`, {
      method,
      headers: {
        authorization: server.adminAuth,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    };
  };

  beforeAll(async () => {
    if (database === "postgres") ({ url: databaseUrl, drop } = await freshPostgresDatabase());
    writePackage(
      packagesDir,
      "Vars",
      flowPackage([
        {
          name: "gv.test:use",
          signature: { input: [], output: [] },
          steps: [
            { type: "map", set: { endpoint: "%endpoint%", apiValue: "prefix-%apiKeyValue%" } },
            { type: "invoke", service: "pub.flow:tracePipeline" },
            { type: "map", drop: ["apiValue"] },
          ],
        },
      ]),
    );
    server = await start();
  });
  afterAll(async () => {
    await server.close();
    if (drop) await drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("creates (201), replaces (200), lists and reads variables; secret values are never returned", async () => {
    expect(await admin("PUT", "/endpoint", { value: "https://as.example/token" })).toMatchObject({
      status: 201,
      body: { name: "endpoint", value: "https://as.example/token", secret: false },
    });
    expect((await admin("PUT", "/endpoint", { value: "https://as.example/v2/token" })).status).toBe(200);
    const secret = await admin("PUT", "/apiKeyValue", { value: SECRET, secret: true });
    expect(secret.status).toBe(201);
    expect(secret.body).toEqual({
      name: "apiKeyValue",
      secret: true,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const list = await admin("GET", "");
    expect(list.status).toBe(200);
    expect(list.body).toEqual([
      expect.objectContaining({ name: "apiKeyValue", secret: true }),
      expect.objectContaining({ name: "endpoint", value: "https://as.example/v2/token" }),
    ]);
    expect(JSON.stringify(list.body)).not.toContain(SECRET);
    expect((await admin("GET", "/apiKeyValue")).body).not.toHaveProperty("value");
  });

  it("keeps secret values encrypted at rest", async () => {
    const row = await server.conduit.storage.db
      .selectFrom("global_variables")
      .selectAll()
      .where("name", "=", "apiKeyValue")
      .executeTakeFirstOrThrow();
    expect(row.secret).toBe(1);
    expect(row.value).not.toContain(SECRET);
    expect(row.value.startsWith("v2.")).toBe(true);
  });

  it("substitutes them in flows and masks secret ones in traces and logs", async () => {
    const response = await fetch(`${server.url}/invoke/gv.test/use`, {
      headers: { authorization: server.adminAuth },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ endpoint: "https://as.example/v2/token" });
    server.conduit.log.flush?.();
    const log = readFileSync(logFile(dataDir), "utf8");
    const trace = log.split("\n").find((line) => line.includes('"event":"trace_pipeline"'));
    expect(trace).toBeDefined();
    expect(trace).toContain('"apiValue":"prefix-********"');
    expect(trace).toContain("https://as.example/v2/token");
    expect(log).not.toContain(SECRET);
  });

  it("survives a restart, secret ones readable again with the server key", async () => {
    await server.close();
    server = await start();
    expect((await admin("GET", "")).body).toHaveLength(2);
    const response = await fetch(`${server.url}/invoke/gv.test/use`, {
      headers: { authorization: server.adminAuth },
    });
    expect(await response.json()).toEqual({ endpoint: "https://as.example/v2/token" });
    expect(server.conduit.secretValues.has(SECRET)).toBe(true);
  });

  it("turning a secret into a plain value stops masking it; deleting removes it", async () => {
    expect((await admin("PUT", "/apiKeyValue", { value: "now-public", secret: false })).status).toBe(200);
    expect(server.conduit.secretValues.has(SECRET)).toBe(false);
    expect((await admin("GET", "/apiKeyValue")).body).toMatchObject({ value: "now-public", secret: false });
    expect((await admin("DELETE", "/apiKeyValue")).status).toBe(204);
    expect((await admin("DELETE", "/apiKeyValue")).status).toBe(404);
    expect((await admin("GET", "/apiKeyValue")).status).toBe(404);
  });

  it.each([
    ["no value", "/x", {}],
    ["a value that is not a string", "/x", { value: 5 }],
    ["a secret flag that is not a boolean", "/x", { value: "v", secret: "yes" }],
    ["an unknown field", "/x", { value: "v", extra: 1 }],
    ["a name with a space", "/a%20b", { value: "v" }],
    ["a name with %", "/a%25b", { value: "v" }],
    ["a different name in the body", "/x", { name: "y", value: "v" }],
    ["a body that is not an object", "/x", ["v"]],
  ])("refuses %s with 400", async (_what, path, body) => {
    const { status, body: answer } = await admin("PUT", path, body);
    expect(status).toBe(400);
    expect(answer).toHaveProperty("error");
  });
});
