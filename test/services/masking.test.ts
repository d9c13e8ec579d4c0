import { describe, expect, it } from "vitest";
import { MASK, maskPipeline } from "../../src/services/masking.js";

describe("maskPipeline", () => {
  it("keeps a field named __proto__ as a field, masked inside, without touching any prototype", () => {
    const pipeline = JSON.parse('{"__proto__": {"password": "p4ssw0rd", "note": "n"}, "a": 1}') as object;
    const masked = maskPipeline(pipeline) as Record<string, unknown>;
    expect(Object.getPrototypeOf(masked)).toBe(Object.prototype);
    expect(Object.hasOwn(masked, "__proto__")).toBe(true);
    expect(JSON.stringify(masked)).toBe(`{"__proto__":{"password":"${MASK}","note":"n"},"a":1}`);
    expect(({} as Record<string, unknown>).note).toBeUndefined();
  });
});
