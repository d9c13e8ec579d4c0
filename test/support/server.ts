import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { buildApp } from "../../src/http/app.js";
import { loadConfig, type Config } from "../../src/config/index.js";
import { createConduit, type Conduit } from "../../src/conduit.js";
import type { Clock } from "../../src/kernel/clock.js";
import { logFile, REDACT_PATHS } from "../../src/kernel/logger.js";
import { freshPostgresDatabase } from "./postgres.js";

export const ADMIN_PASSWORD = "admin-password-for-tests";

export type DatabaseKind = "sqlite" | "postgres";
export const DATABASES: DatabaseKind[] = ["sqlite", "postgres"];

export interface TestServer {
  conduit: Conduit;
  app: FastifyInstance;
  /** Base URL of the listening server (real HTTP on 127.0.0.1). */
  url: string;
  config: Config;
  dataDir: string;
  /** `Authorization` header value for Administrator. */
  adminAuth: string;
  close(): Promise<void>;
}

export function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

/**
 * Starts a Conduit on a temporary data dir (and, for postgres, a fresh database) listening on a free port.
 * `env` adds configuration variables; `clock` replaces the system clock.
 */
export async function startServer(
  options: {
    database?: DatabaseKind;
    env?: Record<string, string>;
    clock?: Clock;
    dataDir?: string;
    databaseUrl?: string;
  } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "conduit-test-"));
  let dropDatabase: (() => Promise<void>) | undefined;
  let databaseUrl = options.databaseUrl;
  if (!databaseUrl && options.database === "postgres") {
    const fresh = await freshPostgresDatabase();
    databaseUrl = fresh.url;
    dropDatabase = fresh.drop;
  }
  const port = await freePort();
  const config = loadConfig({
    CONDUIT_DATA_DIR: dataDir,
    CONDUIT_ADMIN_PASSWORD: ADMIN_PASSWORD,
    CONDUIT_LOG_STDOUT: "false",
    CONDUIT_PORT: String(port),
    CONDUIT_PUBLIC_URL: `http://127.0.0.1:${port}`,
    CONDUIT_PACKAGES_DIR: join(dataDir, "packages"),
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...options.env,
  });
  const log = pino(
    { level: "info", redact: { paths: REDACT_PATHS, censor: "[redacted]" } },
    pino.destination({ dest: logFile(dataDir), sync: true, mkdir: true }),
  );
  const conduit = await createConduit(config, {
    log,
    announce: () => undefined,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const app = await buildApp(conduit);
  await app.listen({ port, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${port}`;
  return {
    conduit,
    app,
    url,
    config,
    dataDir,
    adminAuth: basic("Administrator", ADMIN_PASSWORD),
    close: async () => {
      await app.close();
      await conduit.close();
      if (dropDatabase) await dropDatabase();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A port that is free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
