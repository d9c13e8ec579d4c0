import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** A key the box seals or opens with, and its id (src/config/keys.ts keyId). */
export interface BoxKey {
  key: Buffer;
  kid: string;
}

/**
 * Encrypts secrets at rest (external servers' client secrets and keys, secret global variables, JWT
 * signing keys) with AES-256-GCM. The key comes from CONDUIT_SECRET_KEY or from <data dir>/secret.key
 * (see src/config/keys.ts).
 *
 * Format `v2.<kid>.<iv>.<tag>.<body>`: the kid names the key it was sealed with, so a node that holds the
 * previous key too (CONDUIT_SECRET_KEY_PREVIOUS, during a rotation) opens it with the right one. `v1.<iv>.
 * <tag>.<body>` (before key ids) is still read: GCM's tag tells which of the keys opens it.
 */
export class SecretBox {
  private readonly keys: BoxKey[];

  /** `current` seals; every key given opens. */
  constructor(current: BoxKey, ...older: BoxKey[]) {
    for (const { key } of [current, ...older])
      if (key.length !== 32) throw new TypeError("SecretBox needs 32-byte keys");
    this.keys = [current, ...older];
  }

  /** The id of the key new values are sealed with. */
  get kid(): string {
    return this.keys[0]!.kid;
  }

  seal(plain: string): string {
    const { key, kid } = this.keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `v2.${kid}.${iv.toString("base64url")}.${tag.toString("base64url")}.${body.toString("base64url")}`;
  }

  open(sealed: string): string {
    const parts = sealed.split(".");
    if (parts[0] === "v1" && parts.length === 4) {
      const [, iv, tag, body] = parts as [string, string, string, string];
      for (const { key } of this.keys) {
        const plain = decrypt(key, iv, tag, body);
        if (plain !== undefined) return plain;
      }
      throw new Error("a sealed secret that none of the server keys opens");
    }
    if (parts[0] !== "v2" || parts.length !== 5) throw new Error("not a sealed secret");
    const [, kid, iv, tag, body] = parts as [string, string, string, string, string];
    const entry = this.keys.find((k) => k.kid === kid);
    if (!entry) throw new Error(`a secret sealed with server key ${kid}, which this node does not have`);
    const plain = decrypt(entry.key, iv, tag, body);
    if (plain === undefined) throw new Error("a sealed secret that does not open (corrupted?)");
    return plain;
  }

  /** Whether a sealed value is under the key new values are sealed with (and opens with it). */
  isCurrent(sealed: string): boolean {
    const parts = sealed.split(".");
    if (parts[0] !== "v2" || parts.length !== 5 || parts[1] !== this.kid) return false;
    return decrypt(this.keys[0]!.key, parts[2]!, parts[3]!, parts[4]!) !== undefined;
  }
}

function decrypt(key: Buffer, iv: string, tag: string, body: string): string | undefined {
  const authTag = Buffer.from(tag, "base64url");
  if (authTag.length !== 16) return undefined; // a truncated tag would weaken GCM's check
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
    decipher.setAuthTag(authTag);
    return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    return undefined;
  }
}
