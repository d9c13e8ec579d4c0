import { resolve } from "node:path";

/** Conduit's configuration, read from the environment (see the table in README.md). */
export interface Config {
  /** The plain HTTP port; null with CONDUIT_PORT=off (HTTPS alone). */
  port: number | null;
  host: string;
  dataDir: string;
  publicUrl: string;
  adminPassword: string | undefined;
  databaseUrl: string | undefined;
  /** PostgreSQL: connections in this node's pool (CONDUIT_DB_POOL_SIZE). */
  databasePoolSize: number;
  packagesDir: string;
  /** Largest request body accepted, in bytes; larger ones get 413. */
  bodyLimit: number;
  logLevel: string;
  /** Whether pino also writes to stdout (the file under <data dir>/logs is always written). */
  logToStdout: boolean;
  /**
   * GET /metrics: open (the default, for local use), or only for a user of Administrators (Basic, or the
   * console session) and, when CONDUIT_METRICS_TOKEN is set, a scraper sending it as a bearer token.
   */
  metrics: { auth: boolean; token: string | undefined };
  /** Log file rotation: by size (CONDUIT_LOG_MAX_SIZE) and daily, keeping CONDUIT_LOG_FILES rotated files. */
  logRotation: { maxSize: string; maxFiles: number };
  /** Seconds SIGTERM waits for requests in flight before closing them and exiting 1. */
  shutdownTimeoutSeconds: number;
  /** 32-byte key for secrets at rest, base64 or hex; when unset a key file in the data dir is used. */
  secretKey: string | undefined;
  /** CONDUIT_SECRET_KEY_PREVIOUS: the key being rotated out (opens and verifies only; see `conduit key rotate`). */
  previousSecretKey: string | undefined;
  /**
   * Entries of the in-memory cache of this server's access tokens read by digest (see TOKEN_CACHE_MS in
   * src/oauth/server.ts); 0 turns it off. Each entry is a token row, about 1 kB.
   */
  tokenCacheSize: number;
  /** Admin console: minutes without a request after which a session ends. */
  consoleIdleMinutes: number;
  /** Admin console: hours after sign-in after which a session ends, however active. */
  consoleSessionHours: number;
  /** The HTTPS listener (CONDUIT_TLS_CERT and CONDUIT_TLS_KEY), when configured. */
  tls: TlsConfig | undefined;
}

/** Where the HTTPS listener's files are (read and watched by src/http/tls.ts) and how it behaves. */
export interface TlsConfig {
  /** PEM: the certificate, then any intermediates (a chain). */
  certFile: string;
  keyFile: string;
  /** PEM CA bundle: client certificates are asked for and verified against it (RFC 8705). */
  caFile: string | undefined;
  port: number;
  /** Strict-Transport-Security max-age on HTTPS answers (RFC 6797), in seconds. */
  hstsMaxAge: number;
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

/** CONDUIT_METRICS_AUTH (true/false) and CONDUIT_METRICS_TOKEN (which implies it). */
function metricsConfig(env: Env): { auth: boolean; token: string | undefined } {
  const raw = (env.CONDUIT_METRICS_AUTH ?? "").trim().toLowerCase();
  if (raw !== "" && raw !== "true" && raw !== "false")
    throw new ConfigError("CONDUIT_METRICS_AUTH", `must be true or false, got "${raw}"`);
  const token = env.CONDUIT_METRICS_TOKEN || undefined;
  if (token !== undefined && (token.length < 32 || !/^[\x21-\x7e]+$/.test(token)))
    throw new ConfigError("CONDUIT_METRICS_TOKEN", "must be at least 32 printable characters without spaces");
  if (token !== undefined && raw === "false")
    throw new ConfigError("CONDUIT_METRICS_AUTH", "cannot be false when CONDUIT_METRICS_TOKEN is set");
  return { auth: raw === "true" || token !== undefined, token };
}

/** CONDUIT_LOG_MAX_SIZE: a whole number and a unit, K, M or G (`10M`). */
function logSize(env: Env): string {
  const raw = (env.CONDUIT_LOG_MAX_SIZE ?? "10M").trim().toUpperCase();
  if (!/^[1-9]\d{0,5}[KMG]$/.test(raw))
    throw new ConfigError("CONDUIT_LOG_MAX_SIZE", `expected a size such as 10M (K, M or G), got "${raw}"`);
  return raw;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** CONDUIT_TLS_* and CONDUIT_HTTPS_PORT; CONDUIT_PORT=off needs them (nothing else would listen). */
function tlsConfig(env: Env, port: number | null): TlsConfig | undefined {
  const path = (name: string) => (env[name] ? resolve(env[name]) : undefined);
  const certFile = path("CONDUIT_TLS_CERT");
  const keyFile = path("CONDUIT_TLS_KEY");
  if (!certFile || !keyFile) {
    if (certFile || keyFile) {
      const missing = certFile ? "CONDUIT_TLS_KEY" : "CONDUIT_TLS_CERT";
      throw new ConfigError(
        missing,
        "must be set too: HTTPS needs both CONDUIT_TLS_CERT and CONDUIT_TLS_KEY",
      );
    }
    for (const name of ["CONDUIT_HTTPS_PORT", "CONDUIT_TLS_CA"])
      if (env[name]) throw new ConfigError(name, "needs CONDUIT_TLS_CERT and CONDUIT_TLS_KEY");
    if (port === null)
      throw new ConfigError("CONDUIT_PORT", "off needs CONDUIT_TLS_CERT and CONDUIT_TLS_KEY");
    return undefined;
  }
  const httpsPort = integer(env, "CONDUIT_HTTPS_PORT", 5543, 0, 65535);
  if (httpsPort !== 0 && httpsPort === port)
    throw new ConfigError("CONDUIT_HTTPS_PORT", `must differ from CONDUIT_PORT (${port})`);
  return {
    certFile,
    keyFile,
    caFile: path("CONDUIT_TLS_CA"),
    port: httpsPort,
    hstsMaxAge: integer(env, "CONDUIT_HSTS_MAX_AGE", 31536000, 0, 1_000_000_000),
  };
}

export function loadConfig(env: Env = process.env): Config {
  const port =
    env.CONDUIT_PORT?.trim().toLowerCase() === "off" ? null : integer(env, "CONDUIT_PORT", 5555, 0, 65535);
  const tls = tlsConfig(env, port);
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
    // With HTTPS, the issuer and the metadata's endpoints are its URL (RFC 8414 §2); an explicit one wins.
    publicUrl: url(
      env,
      "CONDUIT_PUBLIC_URL",
      tls ? `https://localhost:${tls.port}` : `http://localhost:${port}`,
    ),
    adminPassword,
    databaseUrl: databaseUrl(env),
    databasePoolSize: integer(env, "CONDUIT_DB_POOL_SIZE", 10, 1, 1000),
    packagesDir: resolve(env.CONDUIT_PACKAGES_DIR || "./packages"),
    bodyLimit: integer(env, "CONDUIT_BODY_LIMIT", 1024 * 1024, 1024, 1024 * 1024 * 1024),
    logLevel,
    logToStdout: (env.CONDUIT_LOG_STDOUT ?? "true") !== "false",
    metrics: metricsConfig(env),
    logRotation: { maxSize: logSize(env), maxFiles: integer(env, "CONDUIT_LOG_FILES", 14, 1, 1000) },
    secretKey: env.CONDUIT_SECRET_KEY || undefined,
    previousSecretKey: env.CONDUIT_SECRET_KEY_PREVIOUS || undefined,
    shutdownTimeoutSeconds: integer(env, "CONDUIT_SHUTDOWN_TIMEOUT", 30, 1, 3600),
    tokenCacheSize: integer(env, "CONDUIT_TOKEN_CACHE_SIZE", 100_000, 0, 10_000_000),
    consoleIdleMinutes: integer(env, "CONDUIT_CONSOLE_IDLE_MINUTES", 30, 1, 24 * 60),
    consoleSessionHours: integer(env, "CONDUIT_CONSOLE_SESSION_HOURS", 8, 1, 30 * 24),
    tls,
  };
}
