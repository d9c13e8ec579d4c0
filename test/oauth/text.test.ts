import { describe, expect, it } from "vitest";
import { containsNul } from "../../src/oauth/text.js";

describe("containsNul (src/oauth/text.ts)", () => {
  const form = (entries: Record<string, string | string[]>) =>
    Object.assign(Object.create(null) as Record<string, unknown>, entries);

  it("finds U+0000 in a value or a name, at any depth, in forms, JSON and arrays", () => {
    expect(containsNul([form({ grant_type: "client_credentials", scope: "a b" }), {}, undefined])).toBe(
      false,
    );
    expect(containsNul([form({ scope: "a\u0000b" })])).toBe(true);
    expect(containsNul([form({ "sco\u0000pe": "a" })])).toBe(true);
    expect(containsNul([{}, form({ scope: ["a", "b\u0000"] })])).toBe(true);
    expect(containsNul([{ a: { b: [1, null, { c: "x\u0000" }] } }])).toBe(true);
    expect(containsNul([{ a: { b: [1, null, { c: "x" }] }, n: 5, t: true }])).toBe(false);
    expect(containsNul(["plain", "nul\u0000"])).toBe(true);
  });

  it("walks JSON nested deeper than the stack would allow", () => {
    let deep: unknown = "end\u0000";
    for (let i = 0; i < 200_000; i++) deep = { d: deep };
    expect(containsNul([deep])).toBe(true);
  });
});
