import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logFile } from "../../src/kernel/logger.js";
import { eventually, flowPackage, startFlowServer, writePackage, type FlowServer } from "./support.js";

/**
 * Hostile and broken cases found in review: YAML aliases, `__proto__` paths, secrets in failure messages,
 * header injection, ReDoS labels, runaway fan-out, writes through symbolic links, a missing packages folder.
 */
const SECRET = "zq-review-secret-4711";
const SHORT = "zq-47110x";

const flows: object[] = [
  {
    name: "rv.secret:exit",
    steps: [{ type: "exit", from: "$flow", signal: "failure", message: "rejected %rvSecret%" }],
  },
  {
    name: "rv.secret:caught",
    steps: [
      {
        type: "try",
        steps: [{ type: "exit", signal: "failure", message: "no: %rvSecret%" }],
        catch: [{ type: "invoke", service: "pub.flow:getLastFailureCaught" }],
      },
    ],
  },
  {
    name: "rv.secret:json",
    steps: [
      {
        type: "invoke",
        service: "pub.json:jsonStringToDocument",
        input: { set: { jsonString: "%rvShort%" } },
      },
    ],
  },
  {
    name: "rv.secret:http",
    steps: [
      { type: "invoke", service: "pub.client:http", input: { set: { url: "http://%rvSecret%.invalid/" } } },
    ],
  },
  {
    name: "rv.proto:json",
    signature: { input: [{ name: "text", type: "string" }], output: [] },
    steps: [
      { type: "invoke", service: "pub.json:jsonStringToDocument", input: { copy: { jsonString: "text" } } },
      { type: "map", copy: { again: "document" }, drop: ["text"] },
    ],
  },
  {
    name: "rv.branch:regex",
    signature: { input: [{ name: "value", type: "string" }], output: [] },
    steps: [
      {
        type: "branch",
        switch: "value",
        cases: [
          { label: "/^a+$/", steps: [{ type: "map", set: { chosen: "regex" } }] },
          { label: "$default", steps: [{ type: "map", set: { chosen: "default" } }] },
        ],
      },
      { type: "map", drop: ["value"] },
    ],
  },
  {
    name: "rv.limit:fanOut",
    maxSteps: 400,
    steps: [{ type: "repeat", count: 3, steps: [{ type: "invoke", service: "rv.limit:fanOut" }] }],
  },
  {
    name: "rv.limit:emptyRepeat",
    steps: [{ type: "repeat", count: -1, repeatOn: "success", steps: [] }],
  },
];

let server: FlowServer;
let echo: Server;
let echoUrl: string;
let received: IncomingHttpHeaders | undefined;

beforeAll(async () => {
  echo = createServer((request, response) => {
    received = request.headers;
    response.end("ok");
  });
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}/`;
  server = await startFlowServer({ Review: flowPackage(flows) });
  const put = await server.admin("PUT", "/global-variables/rvSecret", { value: SECRET, secret: true });
  expect(put.status).toBe(201);
  // V8 quotes at most 10 characters of JSON it cannot parse: a longer secret leaks only its start there.
  const short = await server.admin("PUT", "/global-variables/rvShort", { value: SHORT, secret: true });
  expect(short.status).toBe(201);
});
afterAll(async () => {
  await server.close();
  await new Promise((resolve) => echo.close(resolve));
});

const putFlow = (name: string, definition: unknown, pkg = "Review") =>
  server.admin("PUT", `/flows/${name}`, { package: pkg, definition });

function serverLog(): string {
  server.conduit.log.flush?.();
  return readFileSync(logFile(server.dataDir), "utf8");
}

describe("flow definitions from YAML", () => {
  it.each([
    ["an unresolved alias", "*-"],
    ["a circular alias", "&a [*a]"],
    ["circular steps", "name: rv.x:y\nsteps: &s\n  - type: sequence\n    steps: *s\n"],
  ])("%s is a 400 naming the problem, not a 500", async (_, text) => {
    const { status, body } = await putFlow("rv.x:y", text);
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: "invalid_flow" });
    expect(typeof (body as { message: unknown }).message).toBe("string");
  });

  it("a package file with circular steps is reported; the server keeps serving", async () => {
    writePackage(server.packagesDir, "Loopy", {
      "manifest.json": { version: "1" },
      "flows/c.flow.yaml": "name: rv.loopy:c\nsteps: &s\n  - type: sequence\n    steps: *s\n",
    });
    const reload = await server.admin("POST", "/packages/Loopy/reload");
    expect(reload.status).toBe(422);
    const { body } = await server.admin("GET", "/packages/Loopy");
    expect((body as { errors: { file: string }[] }).errors[0]?.file).toBe("flows/c.flow.yaml");
    expect((await server.invoke("rv.branch/regex", { value: "aaa" })).body).toEqual({ chosen: "regex" });
  });
});

describe("prototype keys", () => {
  it.each(["__proto__/polluted", "doc/__proto__", "list[0]/__proto__[1]"])(
    "a map path %s is refused at its place",
    async (path) => {
      const { status, body } = await putFlow("rv.proto:set", {
        steps: [{ type: "map", set: { [path]: 1 } }],
      });
      expect(status).toBe(400);
      const problems = (body as { problems: { path: string }[] }).problems;
      expect(problems[0]?.path).toBe(`/steps/0/set/${path.replace(/\//g, "~1")}`);
    },
  );

  it("a __proto__ key in data stays an own field through outputs and copies", async () => {
    const text = JSON.stringify({ a: 1, ["__proto__"]: { injected: true } });
    const { status, body } = await server.invoke("rv.proto/json", { text });
    expect(status).toBe(200);
    expect(JSON.stringify(body)).toBe(`{"document":${text},"again":${text}}`);
  });
});

describe("secret global variables in failures", () => {
  const noSecret = (value: unknown) => {
    expect(JSON.stringify(value)).not.toContain(SECRET);
    expect(JSON.stringify(value)).toContain("********");
  };

  it("a failure EXIT message that substitutes a secret is masked", async () => {
    const { status, body } = await server.invoke("rv.secret/exit");
    expect(status).toBe(500);
    noSecret(body.message);
  });

  it("getLastFailureCaught reports the message masked", async () => {
    const { status, body } = await server.invoke("rv.secret/caught");
    expect(status).toBe(200);
    expect(body.failure).toBe(true);
    noSecret(body.failureMessage);
  });

  it("a JSON parser error does not quote its input, so no secret leaks through it", async () => {
    const { status, body } = await server.invoke("rv.secret/json");
    expect(status).toBe(500);
    expect(JSON.stringify(body)).not.toContain(SHORT);
    expect(body.message).toContain("not valid JSON");
  });

  it("a pub.client:http transport error naming the host is masked, in the answer and the log", async () => {
    const { status, body } = await server.invoke("rv.secret/http");
    expect(status).toBe(503);
    noSecret(body.message);
    expect(serverLog()).not.toContain(SECRET);
  });
});

describe("pub.client:http headers (RFC 9110 §5.5)", () => {
  const call = (headers: Record<string, string>) =>
    server.invoke("pub.client/http", { url: echoUrl, headers });

  it.each([
    ["a control character", { "x-a": "v\u0001w" }],
    ["a line break", { "x-a": "v\r\nx-injected: 1" }],
    ["a character outside Latin-1", { "x-a": "\u2028" }],
    ["transfer-encoding", { "Transfer-Encoding": "chunked" }],
    ["content-length", { "content-length": "5" }],
    ["connection", { connection: "close" }],
  ])("a header with %s is a 400, never sent", async (_, headers) => {
    received = undefined;
    const { status, body } = await call(headers);
    expect(status).toBe(400);
    expect(body.error).toBe("invalid_input");
    expect(received).toBeUndefined();
  });

  it("a bearer token with a line break is a 400", async () => {
    const { status } = await server.invoke("pub.client/http", {
      url: echoUrl,
      auth: { type: "bearer", token: "a\nb" },
    });
    expect(status).toBe(400);
  });

  it("valid headers are sent as given", async () => {
    const { status } = await call({ "X-Tab": "a\tb", "x-obs": "caf\u00e9" });
    expect(status).toBe(200);
    expect(received?.["x-tab"]).toBe("a\tb");
  });
});

describe("BRANCH regular-expression labels", () => {
  it("a pattern that can backtrack exponentially is refused at its label", async () => {
    const { status, body } = await putFlow("rv.redos:b", {
      steps: [{ type: "branch", switch: "v", cases: [{ label: "/^(a+)+$/", steps: [] }] }],
    });
    expect(status).toBe(400);
    const problem = (body as { problems: { path: string; message: string }[] }).problems[0];
    expect(problem?.path).toBe("/steps/0/cases/0/label");
    expect(problem?.message).toContain("ReDoS");
  });

  it("a value longer than 1024 characters never matches a regex label", async () => {
    expect((await server.invoke("rv.branch/regex", { value: "a".repeat(1024) })).body).toEqual({
      chosen: "regex",
    });
    expect((await server.invoke("rv.branch/regex", { value: "a".repeat(1025) })).body).toEqual({
      chosen: "default",
    });
  });
});

describe("step limits", () => {
  it("recursion that fans out shares one step budget", { timeout: 20_000 }, async () => {
    const { status, body } = await server.invoke("rv.limit/fanOut");
    expect(status).toBe(500);
    expect(body.message).toContain("more than 400 steps");
  });

  it("an endless REPEAT without children is stopped by the step limit", { timeout: 20_000 }, async () => {
    const { status, body } = await server.invoke("rv.limit/emptyRepeat");
    expect(status).toBe(500);
    expect(body.message).toContain("steps");
  });
});

describe("writing flows into packages", () => {
  it("refuses to write through a symbolic link that leads out of the package", async () => {
    const outside = mkdtempSync(join(tmpdir(), "conduit-outside-"));
    writePackage(server.packagesDir, "Linked", { "manifest.json": { version: "1" } });
    symlinkSync(outside, join(server.packagesDir, "Linked", "flows"));
    try {
      expect((await server.admin("POST", "/packages/Linked/reload")).status).toBe(200);
      const { status, body } = await putFlow("rv.linked:f", { steps: [] }, "Linked");
      expect(status).toBe(400);
      expect((body as { error: string }).error).toBe("package_invalid");
      expect(existsSync(join(outside, "rv.linked"))).toBe(false);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("deleting a flow whose file is already gone from disk answers 204", async () => {
    expect((await putFlow("rv.gone:f", { steps: [] })).status).toBe(201);
    unlinkSync(join(server.packagesDir, "Review", "flows", "rv.gone", "f.flow.yaml"));
    const { status } = await server.admin("DELETE", "/flows/rv.gone:f");
    expect(status).toBe(204);
    expect((await server.admin("GET", "/flows/rv.gone:f")).status).toBe(404);
  });
});

it("starts without a packages folder, creates it and loads packages that appear", async () => {
  const root = mkdtempSync(join(tmpdir(), "conduit-fresh-"));
  const packagesDir = join(root, "not", "yet");
  const fresh = await startFlowServer({}, { packagesDir });
  try {
    expect((await fresh.admin("GET", "/packages")).body).toEqual([]);
    mkdirSync(packagesDir, { recursive: true });
    writePackage(packagesDir, "Late", flowPackage([{ name: "rv.late:f", steps: [] }]));
    await eventually(async () => expect((await fresh.invoke("rv.late/f")).status).toBe(200));
  } finally {
    await fresh.close();
    rmSync(root, { recursive: true, force: true });
  }
});
