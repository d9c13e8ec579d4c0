import { createHmac, hash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

/**
 * Random bytes are drawn from the CSPRNG in blocks and handed out once each: one system call per block
 * instead of one per token (Node's randomUUID does the same). A used byte is never handed out again.
 */
const POOL_SIZE = 8192;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function takeRandom(bytes: number): Buffer {
  if (bytes > POOL_SIZE) return randomBytes(bytes);
  if (poolOffset + bytes > pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const out = pool.subarray(poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return out;
}

/** A random token of `bytes` bytes of entropy (default 256 bits), base64url without padding. */
export function randomToken(bytes = 32): string {
  return takeRandom(bytes).toString("base64url");
}

/** SHA-256 digest, base64url. Tokens are stored only as this digest. */
export function sha256(value: string | Buffer): string {
  return hash("sha256", value, "base64url"); // one-shot: no Hash object per call (token checks are hot)
}

/**
 * A fast keyed digest (SHA-256 over key and value) for in-memory lookups on the hot path, such as the
 * cache of verified credentials: it keeps cleartext out of cache keys at a fraction of an HMAC's cost.
 */
export function keyedDigest(key: string, value: string): string {
  return hash("sha256", key + value, "base64url");
}

/** HMAC-SHA-256 with a server key, base64url: a keyed digest for high-entropy secrets. */
export function hmac(key: Buffer | string, value: string): string {
  return createHmac("sha256", key).update(value).digest("base64url");
}

/** Constant-time comparison of two strings, whatever their lengths. */
export function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, "utf8");
  const bb = Buffer.from(b, "utf8");
  // Only the lengths may show in the timing (the secrets compared here are digests of fixed length).
  if (ba.length !== bb.length) {
    timingSafeEqual(ba, ba);
    return false;
  }
  return timingSafeEqual(ba, bb);
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32, maxmem: 64 * 1024 * 1024 } as const;

function scryptAsync(
  password: string,
  salt: Buffer,
  keylen: number,
  options: ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Hashes a person's password with scrypt; the result names its parameters so they can change later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const { N, r, p, keylen, maxmem } = SCRYPT;
  const key = await scryptAsync(password, salt, keylen, { N, r, p, maxmem });
  return `scrypt$${N}$${r}$${p}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [, n, r, p, saltText, keyText] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyText, "base64url");
  const key = await scryptAsync(password, Buffer.from(saltText, "base64url"), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return timingSafeEqual(key, expected);
}

/** A strong generated password for people (the initial Administrator password). */
export function generatePassword(): string {
  return randomBytes(18).toString("base64url");
}
