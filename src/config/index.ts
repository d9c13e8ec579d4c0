import { resolve } from "node:path";

/** Conduit's configuration, read from the environment (see the table in README.md). */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  publicUrl: string;
  adminPassword: string | undefined;
  databaseUrl: string | undefined;
  packagesDir: string;
  /** Largest request body accepted, in bytes; larger ones get 413. */
  bodyLimit: number;
  logLevel: string;
  /** Whether pino also writes to stdout (the file under <data dir>/logs is always written). */
  logToStdout: boolean;
  /** Seconds SIGTERM waits for requests in flight before closing them and exiting 1. */
  shutdownTimeoutSeconds: number;
  /** 32-byte key for secrets at rest, base64 or hex; when unset a key file in the data dir is used. */
  secretKey: string | undefined;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max)
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function url(env: Env, name: string, fallback: string): string {
  const raw = env[name] ?? fallback;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `not a valid URL: "${raw}"`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new ConfigError(name, "must be an http or https URL");
  if (parsed.search || parsed.hash) throw new ConfigError(name, "must not have a query or fragment");
  return parsed.href.replace(/\/$/, "");
}

function databaseUrl(env: Env): string | undefined {
  const raw = env.DATABASE_URL;
  if (raw === undefined || raw === "") return undefined;
  if (!/^postgres(ql)?:\/\//.test(raw)) throw new ConfigError("DATABASE_URL", "must be a postgres:// URL");
  try {
    new URL(raw);
  } catch {
    throw new ConfigError("DATABASE_URL", "not a valid URL");
  }
  return raw;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, "CONDUIT_PORT", 5555, 0, 65535);
  const logLevel = env.CONDUIT_LOG_LEVEL ?? "info";
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError("CONDUIT_LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}`);
  const adminPassword = env.CONDUIT_ADMIN_PASSWORD || undefined;
  if (adminPassword !== undefined && adminPassword.length < 8)
    throw new ConfigError("CONDUIT_ADMIN_PASSWORD", "must be at least 8 characters");
  return {
    port,
    host: env.CONDUIT_HOST || "0.0.0.0",
    dataDir: resolve(env.CONDUIT_DATA_DIR || "./data"),
    publicUrl: url(env, "CONDUIT_PUBLIC_URL", `http://localhost:${port}`),
    adminPassword,
    databaseUrl: databaseUrl(env),
    packagesDir: resolve(env.CONDUIT_PACKAGES_DIR || "./packages"),
    bodyLimit: integer(env, "CONDUIT_BODY_LIMIT", 1024 * 1024, 1024, 1024 * 1024 * 1024),
    logLevel,
    logToStdout: (env.CONDUIT_LOG_STDOUT ?? "true") !== "false",
    secretKey: env.CONDUIT_SECRET_KEY || undefined,
    shutdownTimeoutSeconds: integer(env, "CONDUIT_SHUTDOWN_TIMEOUT", 30, 1, 3600),
  };
}
