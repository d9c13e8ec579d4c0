import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hmac } from "../kernel/crypto.js";
import { ConfigError, type Config } from "./index.js";

/** A server key and its id: a short prefix of its check value, which names the key and reveals nothing. */
export interface ServerKey {
  key: Buffer;
  kid: string;
}

/**
 * The server keys of a node: `current` seals and digests everything new; `previous`
 * (CONDUIT_SECRET_KEY_PREVIOUS, only while a rotation is in progress) still opens and verifies what was
 * written under it. See `conduit key rotate` (src/cli/key-rotate.ts).
 */
export interface ServerKeys {
  current: ServerKey;
  previous?: ServerKey;
}

const CHECK_LABEL = "conduit server key check v1";
const KID_LENGTH = 8;

/** The check value of a server key (stored in the settings table): an HMAC of a fixed label. */
export function keyCheckValue(key: Buffer): string {
  return hmac(key, CHECK_LABEL);
}

/** The id sealed values and digests are marked with: 8 base64url characters of the check value. */
export function keyId(key: Buffer): string {
  return keyCheckValue(key).slice(0, KID_LENGTH);
}

/** A fresh server key, base64 (what `conduit key generate` prints). */
export function generateServerKey(): string {
  return randomBytes(32).toString("base64");
}

/** A key given in hex (64 digits) or base64; the variable is named when it is not 32 bytes. */
export function parseServerKey(text: string, variable: string): Buffer {
  const raw = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(raw) ? Buffer.from(raw, "hex") : Buffer.from(raw, "base64");
  if (key.length !== 32) throw new ConfigError(variable, "must be 32 bytes in hex or base64");
  return key;
}

/**
 * The server key: encrypts secrets at rest and keys the digests of client secrets and cached credentials.
 * From CONDUIT_SECRET_KEY (32 bytes, base64 or hex) or else <data dir>/secret.key, created at first start.
 * Every node of a PostgreSQL cluster must be given the same key.
 */
export function loadServerKey(config: Config): Buffer {
  if (config.secretKey) return parseServerKey(config.secretKey, "CONDUIT_SECRET_KEY");
  const file = join(config.dataDir, "secret.key");
  if (!existsSync(file)) {
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString("base64"), { mode: 0o600, flag: "wx" });
  }
  const key = Buffer.from(readFileSync(file, "utf8").trim(), "base64");
  if (key.length !== 32) throw new ConfigError("CONDUIT_SECRET_KEY", `${file} does not hold a 32-byte key`);
  return key;
}

/** The current key and, during a rotation, the previous one (CONDUIT_SECRET_KEY_PREVIOUS). */
export function loadServerKeys(config: Config): ServerKeys {
  const key = loadServerKey(config);
  const current = { key, kid: keyId(key) };
  if (!config.previousSecretKey) return { current };
  const old = parseServerKey(config.previousSecretKey, "CONDUIT_SECRET_KEY_PREVIOUS");
  if (old.equals(key))
    throw new ConfigError("CONDUIT_SECRET_KEY_PREVIOUS", "is the same key as CONDUIT_SECRET_KEY");
  const previous = { key: old, kid: keyId(old) };
  // 48 bits: two keys sharing an id is a one-in-10^14 event, refused rather than mixed up.
  if (previous.kid === current.kid)
    throw new ConfigError(
      "CONDUIT_SECRET_KEY_PREVIOUS",
      "has the same key id as CONDUIT_SECRET_KEY: generate another key",
    );
  return { current, previous };
}
