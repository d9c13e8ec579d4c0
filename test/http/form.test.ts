import { describe, expect, it } from "vitest";
import { parseForm } from "../../src/http/form.js";

describe("parseForm (src/http/form.ts)", () => {
  it("keeps every name as a parameter, prototype names too, and every value of a repeated one", () => {
    const form = parseForm("__proto__=x&constructor=c&toString=t&scope=a&scope=b&scope=c&e=&plus=a+b%21");
    expect(Object.getPrototypeOf(form)).toBeNull();
    expect(Object.keys(form)).toEqual(["__proto__", "constructor", "toString", "scope", "e", "plus"]);
    expect({ ...form }).toEqual({
      ["__proto__"]: "x",
      constructor: "c",
      toString: "t",
      scope: ["a", "b", "c"],
      e: "",
      plus: "a b!",
    });
    // Nothing reached Object.prototype.
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it("has no inherited names: an absent one is undefined", () => {
    const form = parseForm("grant_type=client_credentials");
    expect(form.constructor).toBeUndefined();
    expect(form.hasOwnProperty).toBeUndefined();
    expect(form.grant_type).toBe("client_credentials");
  });
});
