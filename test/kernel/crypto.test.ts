import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hashPassword, randomToken, safeEqual, sha256, verifyPassword } from "../../src/kernel/crypto.js";

describe("kernel crypto", () => {
  it("randomToken gives the requested entropy, never the same bytes twice, across pool refills", () => {
    const tokens = Array.from({ length: 3000 }, (_, i) => randomToken(i % 3 === 0 ? 16 : 32));
    expect(new Set(tokens).size).toBe(tokens.length);
    for (const [i, token] of tokens.entries()) {
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(token, "base64url").length).toBe(i % 3 === 0 ? 16 : 32);
    }
    // Byte-level: no 8-byte window of one token appears in another (a reused pool slice would).
    const seen = new Set<string>();
    for (const token of tokens.slice(0, 500)) {
      const bytes = Buffer.from(token, "base64url").toString("hex");
      const head = bytes.slice(0, 16);
      expect(seen.has(head)).toBe(false);
      seen.add(head);
    }
    expect(Buffer.from(randomToken(20_000), "base64url").length).toBe(20_000);
  });

  it("sha256 is the SHA-256 digest in base64url", () => {
    expect(sha256("abc")).toBe(createHash("sha256").update("abc").digest("base64url"));
    expect(sha256(Buffer.from("é"))).toBe(createHash("sha256").update(Buffer.from("é")).digest("base64url"));
  });

  it("safeEqual compares whatever the lengths", () => {
    expect(safeEqual("abc", "abc")).toBe(true);
    expect(safeEqual("abc", "abd")).toBe(false);
    expect(safeEqual("abc", "abcd")).toBe(false);
    expect(safeEqual("", "")).toBe(true);
  });

  it("hashes passwords with scrypt and a salt, and verifies them", async () => {
    const a = await hashPassword("correct horse");
    const b = await hashPassword("correct horse");
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword("correct horse", a)).toBe(true);
    expect(await verifyPassword("wrong horse", a)).toBe(false);
    expect(await verifyPassword("x", "not-a-hash")).toBe(false);
  });
});
