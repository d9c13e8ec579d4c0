import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, type Config } from "./index.js";

/**
 * The server key: encrypts secrets at rest and keys the digests of client secrets and cached credentials.
 * From CONDUIT_SECRET_KEY (32 bytes, base64 or hex) or else <data dir>/secret.key, created at first start.
 * Every node of a PostgreSQL cluster must be given the same key.
 */
export function loadServerKey(config: Config): Buffer {
  if (config.secretKey) {
    const raw = config.secretKey.trim();
    const key = /^[0-9a-f]{64}$/i.test(raw) ? Buffer.from(raw, "hex") : Buffer.from(raw, "base64");
    if (key.length !== 32) throw new ConfigError("CONDUIT_SECRET_KEY", "must be 32 bytes in hex or base64");
    return key;
  }
  const file = join(config.dataDir, "secret.key");
  if (!existsSync(file)) {
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString("base64"), { mode: 0o600, flag: "wx" });
  }
  const key = Buffer.from(readFileSync(file, "utf8").trim(), "base64");
  if (key.length !== 32) throw new ConfigError("CONDUIT_SECRET_KEY", `${file} does not hold a 32-byte key`);
  return key;
}
