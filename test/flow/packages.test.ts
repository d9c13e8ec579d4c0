import { readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { logFile } from "../../src/kernel/logger.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, flowPackage, startFlowServer, writePackage, type FlowServer } from "./support.js";

const hello = (name: string, text: string) => ({
  name,
  signature: { input: [], output: [{ name: "text", type: "string" }] },
  steps: [{ type: "map", set: { text } }],
});

const code = `export default [
  { name: "p.code:twice", signature: { input: [{ name: "n", type: "integer", required: true }], output: [] },
    run: (input) => ({ value: input.n * 2 }) },
];`;

let server: FlowServer;
beforeAll(async () => {
  server = await startFlowServer({
    Base: { ...flowPackage([hello("p.base:hello", "v1")]), "services/code.mjs": code },
    Dependent: flowPackage(
      [
        {
          name: "p.dep:callsBase",
          signature: { input: [], output: [] },
          steps: [{ type: "invoke", service: "p.base:hello" }],
        },
      ],
      { requires: ["Base"] },
    ),
    Orphan: flowPackage([hello("p.orphan:x", "x")], { requires: ["Missing"] }),
    Open: flowPackage([hello("p.open:hello", "hi")], { acls: { "p.open": "Anonymous" } }),
    Broken: {
      "manifest.yaml": "version: '1'\n",
      "flows/bad.flow.yaml": [
        "name: p.broken:bad",
        "steps:",
        "  - type: map",
        "    sett: {}",
        "  - type: invoke",
        "  - type: branch",
        "    evaluateLabels: true",
        "    cases: [{ label: '%a% ==', steps: [] }]",
        "  - type: exit",
        "    from: nowhere",
        "  - type: teleport",
      ].join("\n"),
    },
  });
});
afterAll(() => server.close());

describe("loading", () => {
  it("lists packages with their services, and reports broken ones with file, path and message", async () => {
    const { status, body } = await server.admin("GET", "/packages");
    expect(status).toBe(200);
    const byName = Object.fromEntries((body as { name: string }[]).map((p) => [p.name, p]));
    expect(byName.Base).toMatchObject({
      loaded: true,
      services: ["p.base:hello", "p.code:twice"],
      flows: ["p.base:hello"],
    });
    expect(byName.Dependent).toMatchObject({ loaded: true, requires: ["Base"] });
    expect(byName.Orphan).toMatchObject({
      loaded: false,
      errors: [{ file: "manifest", message: "requires package Missing, which is not loaded" }],
    });
    const broken = byName.Broken as unknown as {
      loaded: boolean;
      errors: { file: string; path: string; message: string }[];
    };
    expect(broken.loaded).toBe(false);
    expect(broken.errors).toEqual(
      expect.arrayContaining([
        { file: "flows/bad.flow.yaml", path: "/steps/0", message: 'unknown property "sett"' },
        { file: "flows/bad.flow.yaml", path: "/steps/1", message: "must have required property 'service'" },
        { file: "flows/bad.flow.yaml", path: "/steps/4/type", message: "unknown or missing step type" },
      ]),
    );
  });

  it("reports the step kinds' own checks (expressions, EXIT targets) with their paths", async () => {
    writePackage(server.packagesDir, "Broken", {
      "flows/bad.flow.yaml": [
        "name: p.broken:bad",
        "steps:",
        "  - type: branch",
        "    evaluateLabels: true",
        "    cases: [{ label: '%a% ==', steps: [] }]",
        "  - type: exit",
        "    from: nowhere",
      ].join("\n"),
    });
    const { status, body } = await server.admin("POST", "/packages/Broken/reload");
    expect(status).toBe(422);
    expect(body).toMatchObject({
      error: "package_invalid",
      package: {
        loaded: false,
        errors: [
          {
            file: "flows/bad.flow.yaml",
            path: "/steps/0/cases/0/label",
            message: "the expression ends too early",
          },
          {
            file: "flows/bad.flow.yaml",
            path: "/steps/1/from",
            message: 'no enclosing step is labelled "nowhere"',
          },
        ],
      },
    });
  });

  it("runs code services of a package and flows that call other packages", async () => {
    expect((await server.invoke("p.code/twice", { n: 21 })).body).toEqual({ value: 42 });
    expect((await server.invoke("p.dep/callsBase")).body).toEqual({ text: "v1" });
  });

  it("applies manifest ACLs as defaults, which an administrator's assignment overrides", async () => {
    expect((await server.invoke("p.open/hello", {}, null)).status).toBe(200);
    const assigned = await server.admin("PUT", "/services/p.open/acl", { acl: "Default" });
    expect(assigned.status).toBe(200);
    expect((await server.invoke("p.open/hello", {}, null)).status).toBe(401);
    expect((await server.admin("POST", "/packages/Open/reload")).status).toBe(200);
    expect((await server.invoke("p.open/hello", {}, null)).status).toBe(401);
  });
});

describe("reloading", () => {
  it("picks up a changed file through the watcher", async () => {
    writePackage(server.packagesDir, "Base", { "flows/f0.flow.json": hello("p.base:hello", "v2") });
    await eventually(async () => expect((await server.invoke("p.base/hello")).body).toEqual({ text: "v2" }));
  });

  it("loads a package folder that appears, through the watcher", async () => {
    writePackage(server.packagesDir, "Fresh", flowPackage([hello("p.fresh:hello", "new")]));
    await eventually(async () =>
      expect((await server.invoke("p.fresh/hello")).body).toEqual({ text: "new" }),
    );
    expect((await server.admin("GET", "/packages/Fresh")).body).toMatchObject({
      loaded: true,
      version: "1.0",
    });
  });

  it("keeps the last good version serving when the package breaks, and reports why", async () => {
    writePackage(server.packagesDir, "Base", { "flows/f0.flow.json": "{ this is not json" });
    await eventually(async () => {
      const { body } = await server.admin("GET", "/packages/Base");
      expect((body as { errors: unknown[] }).errors.length).toBeGreaterThan(0);
    });
    const { body } = await server.admin("GET", "/packages/Base");
    expect(body).toMatchObject({ loaded: true, errors: [{ file: "flows/f0.flow.json" }] });
    expect((await server.invoke("p.base/hello")).body).toEqual({ text: "v2" });
    expect((await server.admin("POST", "/packages/Base/reload")).status).toBe(422);

    writePackage(server.packagesDir, "Base", { "flows/f0.flow.json": hello("p.base:hello", "v3") });
    const reloaded = await server.admin("POST", "/packages/Base/reload");
    expect(reloaded.status).toBe(200);
    expect(reloaded.body).toMatchObject({ loaded: true, errors: [] });
    expect((await server.invoke("p.base/hello")).body).toEqual({ text: "v3" });
  });

  it("refuses a package that would take over another package's service", async () => {
    writePackage(server.packagesDir, "Thief", flowPackage([hello("p.base:hello", "stolen")]));
    const { status, body } = await server.admin("POST", "/packages/Thief/reload");
    expect(status).toBe(422);
    expect(JSON.stringify(body)).toContain("p.base:hello already belongs to Base");
    expect((await server.invoke("p.base/hello")).body).toEqual({ text: "v3" });
    rmSync(join(server.packagesDir, "Thief"), { recursive: true });
    await server.admin("POST", "/packages/Thief/reload");
  });

  it("unloads a package whose folder is removed", async () => {
    writePackage(server.packagesDir, "Gone", flowPackage([hello("p.gone:x", "x")]));
    expect((await server.admin("POST", "/packages/Gone/reload")).status).toBe(200);
    expect((await server.invoke("p.gone/x")).status).toBe(200);
    rmSync(join(server.packagesDir, "Gone"), { recursive: true });
    expect((await server.admin("POST", "/packages/Gone/reload")).status).toBe(404);
    expect((await server.invoke("p.gone/x")).status).toBe(404);
  });
});

describe("flow admin API", () => {
  const definition = {
    signature: {
      input: [{ name: "who", type: "string", required: true }],
      output: [{ name: "greeting", type: "string" }],
    },
    steps: [{ type: "map", set: { greeting: "hello %who%" } }],
  };

  it("creates a flow, validated, written into its package, and runs it", async () => {
    const put = await server.admin("PUT", "/flows/p.made:greet", { package: "Base", definition });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({
      name: "p.made:greet",
      package: "Base",
      file: "flows/p.made/greet.flow.yaml",
    });
    const file = readFileSync(join(server.packagesDir, "Base", "flows", "p.made", "greet.flow.yaml"), "utf8");
    expect(file).toContain("name: p.made:greet");
    expect((await server.invoke("p.made/greet", { who: "Ada" })).body).toEqual({
      who: "Ada",
      greeting: "hello Ada",
    });

    const got = await server.admin("GET", "/flows/p.made:greet");
    expect(got.body).toMatchObject({
      name: "p.made:greet",
      definition: { name: "p.made:greet", ...definition },
    });
    const listed = await server.admin("GET", "/flows");
    expect(listed.body).toEqual(
      expect.arrayContaining([
        { name: "p.made:greet", package: "Base", file: "flows/p.made/greet.flow.yaml" },
      ]),
    );
    const service = await server.admin("GET", "/services/p.made:greet");
    expect(service.body).toMatchObject({ package: "Base", acl: "Default" });
  });

  it("replaces a flow (200), accepting YAML text, and warns of services that do not exist", async () => {
    const yaml =
      "steps:\n  - type: map\n    set: { greeting: 'bonjour %who%' }\n  - type: invoke\n    service: p.later:thing\n    disabled: true\n";
    const put = await server.admin("PUT", "/flows/p.made:greet", { definition: yaml });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ warnings: ["invokes p.later:thing, which does not exist"] });
    expect((await server.invoke("p.made/greet", { who: "Ada" })).body).toMatchObject({
      greeting: "bonjour Ada",
    });
  });

  it("refuses an invalid definition before writing anything, naming each problem", async () => {
    const put = await server.admin("PUT", "/flows/p.made:bad", {
      package: "Base",
      definition: {
        steps: [
          { type: "loop", steps: [] },
          { type: "map", drop: ["a//b"] },
        ],
      },
    });
    expect(put.status).toBe(400);
    expect(put.body).toMatchObject({
      error: "invalid_flow",
      problems: [{ path: "/steps/0", message: "must have required property 'over'" }],
    });
    const paths = await server.admin("PUT", "/flows/p.made:bad", {
      package: "Base",
      definition: { steps: [{ type: "map", drop: ["a//b"] }] },
    });
    expect(paths.body).toMatchObject({
      problems: [{ path: "/steps/0/drop/0", message: '"a//b" is not a pipeline path (doc/field, list[0])' }],
    });
    expect(existsSync(join(server.packagesDir, "Base", "flows", "p.made", "bad.flow.yaml"))).toBe(false);
  });

  it.each([
    ["a built-in service name", "pub.math:addInts", { package: "Base", definition: { steps: [] } }, 409],
    ["a name that is not a service name", "nocolon", { package: "Base", definition: { steps: [] } }, 400],
    ["an unknown package", "p.made:x", { package: "Nope", definition: { steps: [] } }, 400],
    ["no package for a new flow", "p.made:x", { definition: { steps: [] } }, 400],
    [
      "a different name inside",
      "p.made:x",
      { package: "Base", definition: { name: "p.made:y", steps: [] } },
      400,
    ],
    ["an unknown field", "p.made:x", { package: "Base", definition: { steps: [] }, acl: "Anonymous" }, 400],
    ["bad YAML", "p.made:x", { package: "Base", definition: "steps: [" }, 400],
  ])("refuses %s", async (_what, name, body, status) => {
    expect((await server.admin("PUT", `/flows/${name}`, body)).status).toBe(status);
  });

  it.each([
    [
      "an unknown word in a label expression",
      { type: "branch", evaluateLabels: true, cases: [{ label: "%a% is 1", steps: [] }] },
      "/steps/0/cases/0/label",
      'unknown word "is" (pipeline values are written %name%)',
    ],
    [
      "an invalid regex label",
      { type: "branch", switch: "a", cases: [{ label: "/(/", steps: [] }] },
      "/steps/0/cases/0/label",
      undefined,
    ],
    [
      "a label twice",
      {
        type: "branch",
        switch: "a",
        cases: [
          { label: "x", steps: [] },
          { label: "x", steps: [] },
        ],
      },
      "/steps/0/cases/1/label",
      'label "x" appears twice',
    ],
    [
      "a branch with neither switch nor evaluateLabels",
      { type: "branch", cases: [] },
      "/steps/0",
      "a branch needs a switch path or evaluateLabels: true",
    ],
    [
      "EXIT from $loop outside a loop",
      { type: "exit", from: "$loop" },
      "/steps/0/from",
      "EXIT from $loop outside a LOOP or REPEAT",
    ],
    [
      "EXIT from an unknown $ target",
      { type: "exit", from: "$nowhere" },
      "/steps/0/from",
      "from is $flow, $parent, $loop or an enclosing label",
    ],
    [
      "an invoke of something that is not a service name",
      { type: "invoke", service: "no-colon" },
      "/steps/0/service",
      '"no-colon" is not a service name (folder.sub:service)',
    ],
    ["a repeat count below -1", { type: "repeat", count: -5, steps: [] }, "/steps/0/count", "must be >= -1"],
  ])("reports %s at its path", async (_what, step, path, message) => {
    const put = await server.admin("PUT", "/flows/p.made:checked", {
      package: "Base",
      definition: { steps: [step] },
    });
    expect(put.status).toBe(400);
    const problems = (put.body as { problems: { path: string; message: string }[] }).problems;
    expect(problems[0]?.path).toBe(path);
    if (message) expect(problems[0]?.message).toBe(message);
  });

  it("moves no flow between packages", async () => {
    const put = await server.admin("PUT", "/flows/p.made:greet", { package: "Open", definition });
    expect(put.status).toBe(409);
  });

  it("deletes a flow: the file and the service go", async () => {
    expect((await server.admin("DELETE", "/flows/p.made:greet")).status).toBe(204);
    expect(existsSync(join(server.packagesDir, "Base", "flows", "p.made", "greet.flow.yaml"))).toBe(false);
    expect((await server.invoke("p.made/greet", { who: "Ada" })).status).toBe(404);
    expect((await server.admin("DELETE", "/flows/p.made:greet")).status).toBe(404);
    expect((await server.admin("GET", "/flows/p.made:greet")).status).toBe(404);
  });

  it("serves the flow JSON Schema", async () => {
    const { status, body } = await server.admin("GET", "/flows/schema");
    expect(status).toBe(200);
    expect(body).toMatchObject({ title: "Conduit flow service" });
  });

  it("is for administrators only", async () => {
    for (const path of ["/packages", "/flows", "/global-variables"]) {
      const response = await fetch(`${server.url}/admin/api${path}`);
      expect(response.status).toBe(401);
    }
    await server.admin("POST", "/users", { username: "plain", password: "plain-password", groups: [] });
    const response = await fetch(`${server.url}/admin/api/packages`, {
      headers: { authorization: `Basic ${Buffer.from("plain:plain-password").toString("base64")}` },
    });
    expect(response.status).toBe(403);
  });
});

describe("audit", () => {
  it("records admin writes in the log without values", async () => {
    await server.admin("PUT", "/global-variables/auditMe", { value: "secret-audit-value", secret: true });
    server.conduit.log.flush?.();
    const log = readFileSync(logFile(server.dataDir), "utf8");
    expect(log).toContain('"action":"global-variable.create"');
    expect(log).toContain('"action":"flow.delete"');
    expect(log).toContain('"action":"package.reload"');
    expect(log).not.toContain("secret-audit-value");
  });
});

it("writes the flow file it was given back unchanged in meaning (JSON files stay JSON)", async () => {
  writeFileSync(
    join(server.packagesDir, "Open", "flows", "f0.flow.json"),
    JSON.stringify(hello("p.open:hello", "json")),
  );
  await server.admin("POST", "/packages/Open/reload");
  const put = await server.admin("PUT", "/flows/p.open:hello", {
    definition: hello("p.open:hello", "still json"),
  });
  expect(put.status).toBe(200);
  const text = readFileSync(join(server.packagesDir, "Open", "flows", "f0.flow.json"), "utf8");
  expect(JSON.parse(text)).toMatchObject({
    name: "p.open:hello",
    steps: [{ type: "map", set: { text: "still json" } }],
  });
});
