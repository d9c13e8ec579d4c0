import pino from "pino";
import { describe, expect, it } from "vitest";
import { BadRequestError } from "../../src/kernel/errors.js";
import { builtinServices } from "../../src/services/builtins/index.js";
import { formatDate } from "../../src/services/builtins/date.js";
import { checkInputs } from "../../src/services/signature.js";
import { lookup, substitute } from "../../src/services/substitution.js";
import type { Pipeline, ServiceContext } from "../../src/services/types.js";
import { ServiceRegistry } from "../../src/services/registry.js";

const lines: Record<string, unknown>[] = [];
const log = pino(
  { level: "trace" },
  { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
);
const secrets = new Set<string>(["s3cr3t-value"]);
const services = new Map(builtinServices({ secrets: () => secrets }).map((s) => [s.name, s]));

function context(name: string): ServiceContext {
  return {
    serviceName: name,
    principal: { username: "tester", groups: ["Everybody"], method: "basic" },
    log,
    transport: {
      protocol: "http",
      method: "GET",
      path: "/invoke/x/y",
      ip: "127.0.0.1",
      headers: { accept: "*/*" },
    },
    response: { headers: {} },
    depth: 0,
    invoke: () => Promise.reject(new Error("not used")),
  };
}

/** Runs a built-in the way the runtime does: inputs checked against the signature first. */
async function call(name: string, input: Pipeline, ctx = context(name)): Promise<Pipeline> {
  const service = services.get(name);
  if (!service) throw new Error(`no ${name}`);
  return service.run(checkInputs(service.signature.input, input), ctx);
}

async function failure(promise: Promise<unknown>): Promise<BadRequestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BadRequestError);
  return error as BadRequestError;
}

describe("pub.math", () => {
  it("randomDouble answers a number in [0, 1)", async () => {
    const values = await Promise.all(Array.from({ length: 50 }, () => call("pub.math:randomDouble", {})));
    for (const { number } of values) {
      expect(typeof number).toBe("number");
      expect(number).toBeGreaterThanOrEqual(0);
      expect(number).toBeLessThan(1);
    }
    expect(new Set(values.map((v) => v.number)).size).toBeGreaterThan(1);
  });

  it("does integer and float arithmetic from text or numbers", async () => {
    expect(await call("pub.math:addInts", { num1: "40", num2: 2 })).toEqual({ value: 42 });
    expect(await call("pub.math:subtractInts", { num1: 1, num2: 3 })).toEqual({ value: -2 });
    expect(await call("pub.math:multiplyInts", { num1: "6", num2: "7" })).toEqual({ value: 42 });
    expect(await call("pub.math:divideInts", { num1: -7, num2: 2 })).toEqual({ value: -3 });
    expect(await call("pub.math:addFloats", { num1: "0.5", num2: 0.25 })).toEqual({ value: 0.75 });
    expect(await call("pub.math:divideFloats", { num1: 1, num2: 4 })).toEqual({ value: 0.25 });
  });

  it("refuses bad numbers, division by zero and overflow with 400s naming the problem", async () => {
    expect((await failure(call("pub.math:addInts", { num1: "1.5", num2: 1 }))).details).toEqual({
      field: "num1",
    });
    expect((await failure(call("pub.math:addInts", { num1: 1 }))).code).toBe("missing_input");
    expect((await failure(call("pub.math:addFloats", { num1: "abc", num2: 1 }))).details).toEqual({
      field: "num1",
    });
    expect((await failure(call("pub.math:divideInts", { num1: 1, num2: 0 }))).code).toBe("division_by_zero");
    expect((await failure(call("pub.math:multiplyInts", { num1: 2 ** 40, num2: 2 ** 40 }))).code).toBe(
      "overflow",
    );
  });
});

describe("pub.string", () => {
  it("converts between bytes and strings with encodings", async () => {
    const { bytes } = await call("pub.string:stringToBytes", { string: "héllo" });
    expect(Buffer.from(bytes as Uint8Array)).toEqual(Buffer.from("héllo", "utf8"));
    expect(await call("pub.string:bytesToString", { bytes })).toEqual({ string: "héllo" });
    expect(
      await call("pub.string:bytesToString", {
        bytes: Buffer.from("aGk=", "base64"),
        encoding: "ISO-8859-1",
      }),
    ).toEqual({ string: "hi" });
    // Over JSON, bytes arrive as base64 text.
    expect(
      await call("pub.string:bytesToString", { bytes: Buffer.from("conduit").toString("base64") }),
    ).toEqual({ string: "conduit" });
    expect(
      (await failure(call("pub.string:bytesToString", { bytes: "aGk=", encoding: "klingon" }))).details,
    ).toEqual({ field: "encoding" });
  });

  it("concatenates, measures, cuts, changes case and replaces", async () => {
    expect(await call("pub.string:concat", { inString1: "con", inString2: "duit" })).toEqual({
      value: "conduit",
    });
    expect(await call("pub.string:length", { inString: "naïve 😀" })).toEqual({ value: 7 });
    expect(await call("pub.string:substring", { inString: "conduit", beginIndex: "3", endIndex: 5 })).toEqual(
      { value: "du" },
    );
    expect(
      (await failure(call("pub.string:substring", { inString: "abc", beginIndex: 2, endIndex: 9 }))).code,
    ).toBe("invalid_input");
    expect(await call("pub.string:toUpper", { inString: "abc" })).toEqual({ value: "ABC" });
    expect(await call("pub.string:toLower", { inString: "ABC" })).toEqual({ value: "abc" });
    expect(
      await call("pub.string:replace", { inString: "a.b.c", searchString: ".", replaceString: "-" }),
    ).toEqual({ value: "a-b-c" });
    expect(
      await call("pub.string:replace", {
        inString: "a1b22",
        searchString: "\\d+",
        replaceString: "#",
        useRegex: "true",
      }),
    ).toEqual({
      value: "a#b#",
    });
    expect(
      (await failure(call("pub.string:replace", { inString: "a", searchString: "(", useRegex: true })))
        .details,
    ).toEqual({
      field: "searchString",
    });
  });

  it("substitutes pipeline variables, nested paths and list items", async () => {
    const pipeline = { name: "Ada", doc: { city: "London", list: ["x", "y"] }, n: 3 };
    expect(substitute("%name% of %doc/city% %doc/list[1]% %n% %missing%.", pipeline)).toBe(
      "Ada of London y 3 .",
    );
    expect(substitute("%g%", {}, (n) => (n === "g" ? "global" : undefined))).toBe("global");
    expect(lookup({ a: {} }, "a/constructor")).toBeUndefined();
    expect(lookup({ a: [1] }, "a/__proto__")).toBeUndefined();
    expect(
      await call("pub.string:substitutePipelineVariables", {
        inString: "hi %who%",
        pipeline: { who: "you" },
      }),
    ).toEqual({
      value: "hi you",
    });
  });
});

describe("pub.json", () => {
  it("parses and writes JSON", async () => {
    expect(await call("pub.json:jsonStringToDocument", { jsonString: '{"a":[1,{"b":true}]}' })).toEqual({
      document: { a: [1, { b: true }] },
    });
    expect(await call("pub.json:documentToJSONString", { document: { a: 1 } })).toEqual({
      jsonString: '{"a":1}',
    });
    expect(await call("pub.json:documentToJSONString", { document: { a: 1 }, prettyPrint: true })).toEqual({
      jsonString: '{\n  "a": 1\n}',
    });
    expect((await failure(call("pub.json:jsonStringToDocument", { jsonString: "{nope" }))).code).toBe(
      "invalid_json",
    );
  });
});

describe("pub.date", () => {
  it("formats with SimpleDateFormat patterns in a time zone", () => {
    const date = new Date("2026-03-04T05:06:07.089Z");
    expect(formatDate(date, "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "UTC")).toBe("2026-03-04T05:06:07.089Z");
    expect(formatDate(date, "EEE, d MMM yy h:mm a", "UTC")).toBe("Wed, 4 Mar 26 5:06 AM");
    expect(formatDate(date, "yyyy-MM-dd HH:mm Z", "Asia/Tokyo")).toBe("2026-03-04 14:06 +0900");
    expect(formatDate(date, "'quoted' ''", "UTC")).toBe("quoted '");
  });

  it("answers the current date and refuses unknown zones and pattern letters", async () => {
    const { value } = await call("pub.date:getCurrentDateString", { pattern: "yyyy" });
    expect(value).toBe(String(new Date().getUTCFullYear()));
    expect(
      (await failure(call("pub.date:getCurrentDateString", { pattern: "yyyy", timezone: "Mars/Base" })))
        .details,
    ).toEqual({
      field: "timezone",
    });
    expect((await failure(call("pub.date:getCurrentDateString", { pattern: "yyyy QQ" }))).details).toEqual({
      field: "pattern",
    });
  });
});

describe("pub.flow", () => {
  it("tracePipeline writes the pipeline to the log with secrets masked", async () => {
    lines.length = 0;
    await call("pub.flow:tracePipeline", {
      user: "ada",
      password: "pw-123456",
      nested: { note: "key s3cr3t-value here" },
      list: [1, 2],
    });
    const record = lines.find((l) => l.event === "trace_pipeline") as { pipeline: Record<string, unknown> };
    expect(record.pipeline).toEqual({
      user: "ada",
      password: "********",
      nested: { note: "key ******** here" },
      list: [1, 2],
    });
    expect(JSON.stringify(lines)).not.toContain("pw-123456");
    expect(JSON.stringify(lines)).not.toContain("s3cr3t-value");
  });

  it("sets the response code and headers, refusing header injection", async () => {
    const ctx = context("pub.flow:setResponseHeader");
    await call("pub.flow:setResponseCode", { responseCode: "201" }, ctx);
    await call("pub.flow:setResponseHeader", { fieldName: "X-Thing", fieldValue: "1" }, ctx);
    expect(ctx.response).toEqual({ status: 201, headers: { "x-thing": "1" } });
    expect(
      (
        await failure(
          call("pub.flow:setResponseHeader", { fieldName: "X", fieldValue: "a\r\nSet-Cookie: x" }, ctx),
        )
      ).code,
    ).toBe("invalid_input");
    expect((await failure(call("pub.flow:setResponseCode", { responseCode: 999 }, ctx))).code).toBe(
      "invalid_input",
    );
  });

  it("getTransportInfo describes the request without credentials", async () => {
    const { transport } = await call("pub.flow:getTransportInfo", {});
    expect(transport).toMatchObject({
      protocol: "http",
      method: "GET",
      user: "tester",
      authentication: "basic",
    });
  });
});

describe("ServiceRegistry", () => {
  it("refuses a name registered twice and swaps an owner's services atomically", () => {
    const registry = new ServiceRegistry();
    const def = (name: string) => ({ name, signature: { input: [], output: [] }, run: () => ({}) });
    registry.replaceOwner("builtin", [def("pub.a:x")]);
    expect(() => registry.register(def("pub.a:x"), "pkg")).toThrow(/already registered/);
    expect(() => registry.replaceOwner("pkg", [def("my.f:a"), def("my.f:a")])).toThrow(/twice/);
    expect(() => registry.replaceOwner("pkg", [def("bad name")])).toThrow(/not a service name/);
    registry.replaceOwner("pkg", [def("my.f:a"), def("my.g:b")]);
    expect(registry.hasNode("my")).toBe(true);
    expect(registry.hasNode("my.f:a")).toBe(true);
    // A failing replacement leaves the previous version serving.
    expect(() => registry.replaceOwner("pkg", [def("pub.a:x")])).toThrow();
    expect(registry.ownedBy("pkg").map((d) => d.name)).toEqual(["my.f:a", "my.g:b"]);
    registry.replaceOwner("pkg", [def("my.f:c")]);
    expect(registry.get("my.f:a")).toBeUndefined();
    expect(registry.hasNode("my.g")).toBe(false);
  });
});

describe("failures and secrets", () => {
  it("a service failure masks secret values in its message and in the log", async () => {
    const { ServiceRuntime } = await import("../../src/services/runtime.js");
    const { maskPipeline } = await import("../../src/services/masking.js");
    const registry = new ServiceRegistry();
    registry.register({
      name: "test.fail:leak",
      signature: { input: [], output: [] },
      run: () => {
        throw new Error("connect to https://user:s3cr3t-value@host failed");
      },
    });
    const access = {
      checkNow: () => undefined,
      check: async () => ({ acl: "Default", allowed: true }),
    } as never;
    const runtime = new ServiceRuntime(
      registry,
      access,
      log,
      () => new BadRequestError("x", "y"),
      (t) => maskPipeline(t, () => secrets) as string,
    );
    lines.length = 0;
    const error = await runtime
      .invoke("test.fail:leak", {}, { principal: null, transport: { protocol: "internal" } })
      .catch((e: unknown) => e as Error);
    expect((error as Error).message).toBe(
      "test.fail:leak failed: connect to https://user:********@host failed",
    );
    expect(JSON.stringify(lines)).not.toContain("s3cr3t-value");
    expect(lines.some((l) => l.event === "service_failed")).toBe(true);
  });

  it("jsonStringToDocument does not quote its input in the error", async () => {
    const error = await failure(
      call("pub.json:jsonStringToDocument", { jsonString: '{"password": s3cr3t-value' }),
    );
    expect(error.message).not.toContain("s3cr3t");
  });
});
