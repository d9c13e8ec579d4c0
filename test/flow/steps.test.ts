import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flowSchema } from "../../src/flow/parser.js";
import { builtinSteps } from "../../src/flow/steps/index.js";
import { invokeStep } from "../../src/flow/steps/invoke.js";
import { flowPackage, startFlowServer, type FlowServer } from "./support.js";

/**
 * Every step kind and substitution, through real HTTP: the flows live in a package on disk, are loaded
 * at start and run by /invoke like any other service.
 */
const flaky = `
const attempts = new Map();
export const services = [
  {
    name: "t.util:flaky",
    description: "Fails until it has been called more than failTimes times for key",
    signature: { input: [{ name: "key", type: "string", required: true }, { name: "failTimes", type: "integer" }], output: [] },
    run(input) {
      const count = (attempts.get(input.key) ?? 0) + 1;
      attempts.set(input.key, count);
      if (count <= (input.failTimes ?? 0)) throw new Error("flaky failure " + count);
      return { attempts: count };
    },
  },
];
`;

const str = (name: string, required = false) => ({ name, type: "string", required });

const flows: object[] = [
  {
    name: "t.steps:invokeMap",
    signature: {
      input: [
        { name: "a", type: "integer", required: true },
        { name: "b", type: "integer" },
      ],
      output: [],
    },
    steps: [
      {
        type: "invoke",
        service: "pub.math:addInts",
        input: { copy: { num1: "a", num2: "b" } },
        output: { copy: { sum: "value" }, drop: ["value"] },
      },
      {
        type: "map",
        copy: { "copies/first": "a", "copies/list[1]": "sum" },
        set: { "doc/text": "sum=%sum%", "doc/number": 7, literal: "%sum%" },
        drop: ["b"],
      },
      { type: "map", set: { raw: "%sum%" }, substitute: false },
    ],
  },
  {
    name: "t.steps:substitution",
    signature: { input: [], output: [] },
    steps: [
      { type: "map", set: { doc: { field: "F" }, list: ["zero", "one"], name: "N", fromPipeline: "x" } },
      {
        type: "map",
        set: {
          all: "%name%/%doc/field%/%list[1]%/[%missing%]/[%doc/nothing%]/[%list[9]%]",
          global: "%flowTestGlobal%",
          shadowed: "%fromPipeline%",
          nested: { deep: ["%name%"] },
        },
      },
    ],
  },
  {
    name: "t.steps:branch",
    signature: { input: [str("status")], output: [] },
    steps: [
      {
        type: "branch",
        switch: "status",
        cases: [
          { label: "200", steps: [{ type: "map", set: { chosen: "ok" } }] },
          { label: "/^4\\d\\d$/", steps: [{ type: "map", set: { chosen: "client error %status%" } }] },
          { label: "$null", steps: [{ type: "map", set: { chosen: "none" } }] },
          { label: "$default", steps: [{ type: "map", set: { chosen: "other" } }] },
        ],
      },
    ],
  },
  {
    name: "t.steps:branchExpressions",
    signature: { input: [{ name: "n", type: "number" }, str("kind")], output: [] },
    steps: [
      {
        type: "branch",
        evaluateLabels: true,
        cases: [
          { label: '%n% > 10 and %kind% == "big"', steps: [{ type: "map", set: { chosen: "big" } }] },
          { label: "%n% >= 0 && !(%kind% == 'big')", steps: [{ type: "map", set: { chosen: "small" } }] },
          { label: "%n% == $null", steps: [{ type: "map", set: { chosen: "no n" } }] },
          { label: "$default", steps: [{ type: "map", set: { chosen: "default" } }] },
        ],
      },
    ],
  },
  {
    name: "t.steps:loop",
    signature: { input: [{ name: "items", type: "array" }], output: [] },
    steps: [
      {
        type: "loop",
        over: "items",
        output: "doubled",
        steps: [
          {
            type: "invoke",
            service: "pub.math:multiplyInts",
            input: { copy: { num1: "items" }, set: { num2: 2 } },
            output: { copy: { doubled: "value" }, drop: ["value"] },
          },
          { type: "map", copy: { lastIteration: "$iteration" } },
        ],
      },
    ],
  },
  {
    name: "t.steps:loopNotList",
    signature: { input: [], output: [] },
    steps: [
      { type: "map", set: { items: "not a list" } },
      { type: "loop", over: "items", steps: [] },
    ],
  },
  {
    name: "t.steps:retry",
    signature: {
      input: [str("key", true), { name: "failTimes", type: "integer" }, { name: "count", type: "integer" }],
      output: [],
    },
    steps: [
      {
        type: "repeat",
        count: 3,
        interval: 0.01,
        steps: [
          { type: "map", set: { touched: "yes" } },
          { type: "invoke", service: "t.util:flaky" },
        ],
      },
    ],
  },
  {
    name: "t.steps:repeatWhileSuccess",
    signature: { input: [], output: [] },
    steps: [
      { type: "map", set: { n: 0 } },
      {
        type: "repeat",
        count: 4,
        repeatOn: "success",
        steps: [
          {
            type: "invoke",
            service: "pub.math:addInts",
            input: { copy: { num1: "n" }, set: { num2: 1 } },
            output: { copy: { n: "value" }, drop: ["value"] },
          },
        ],
      },
    ],
  },
  {
    name: "t.steps:runaway",
    maxSteps: 50,
    signature: { input: [], output: [] },
    steps: [
      {
        type: "try",
        steps: [{ type: "repeat", count: -1, repeatOn: "success", steps: [{ type: "map", set: { x: 1 } }] }],
        catch: [{ type: "map", set: { caught: "the limit must not be caught" } }],
      },
    ],
  },
  {
    name: "t.steps:sequences",
    signature: { input: [], output: [] },
    steps: [
      {
        type: "sequence",
        exitOn: "success",
        steps: [
          {
            type: "sequence",
            steps: [
              { type: "map", set: { undone: "yes" } },
              { type: "invoke", service: "t.nothing:here" },
            ],
          },
          { type: "map", set: { success: "second" } },
          { type: "map", set: { success: "third must not run" } },
        ],
      },
      {
        type: "sequence",
        exitOn: "done",
        steps: [
          { type: "map", set: { done1: "ran" } },
          { type: "invoke", service: "t.nothing:here" },
          { type: "map", set: { done3: "ran" } },
        ],
      },
    ],
  },
  {
    name: "t.steps:sequenceFailure",
    signature: { input: [], output: [] },
    steps: [
      {
        type: "sequence",
        steps: [
          { type: "map", set: { first: "ran" } },
          { type: "invoke", service: "pub.math:divideInts", input: { set: { num1: 1, num2: 0 } } },
          { type: "map", set: { third: "must not run" } },
        ],
      },
    ],
  },
  {
    name: "t.steps:allFail",
    signature: { input: [], output: [] },
    steps: [
      {
        type: "sequence",
        exitOn: "success",
        steps: [
          { type: "sequence", steps: [{ type: "exit", signal: "failure", message: "first fails" }] },
          { type: "sequence", steps: [{ type: "exit", signal: "failure", message: "second fails" }] },
        ],
      },
    ],
  },
  {
    name: "t.steps:tryCatch",
    signature: { input: [], output: [] },
    steps: [
      {
        type: "try",
        steps: [
          { type: "map", set: { before: "set" } },
          { type: "invoke", service: "pub.math:divideInts", input: { set: { num1: 1, num2: 0 } } },
          { type: "map", set: { after: "must not run" } },
        ],
        catch: [
          { type: "invoke", service: "pub.flow:getLastFailureCaught" },
          { type: "map", set: { handled: "yes" } },
        ],
        finally: [{ type: "map", set: { finally: "ran" } }],
      },
      { type: "invoke", service: "pub.flow:getLastFailureCaught", output: { copy: { outside: "failure" } } },
    ],
  },
  {
    name: "t.steps:tryFinallyFails",
    signature: { input: [], output: [] },
    steps: [
      {
        type: "try",
        steps: [{ type: "exit", signal: "failure", message: "from the try block" }],
        finally: [{ type: "map", set: { finally: "ran" } }],
      },
    ],
  },
  {
    name: "t.steps:exits",
    signature: { input: [], output: [] },
    steps: [
      {
        type: "sequence",
        steps: [{ type: "map", set: { a: 1 } }, { type: "exit" }, { type: "map", set: { a: "not reached" } }],
      },
      { type: "map", set: { afterParent: "yes" } },
      { type: "map", set: { items: ["x", "y", "z"] } },
      {
        type: "loop",
        over: "items",
        steps: [
          { type: "map", copy: { seen: "items" } },
          {
            type: "branch",
            switch: "items",
            cases: [{ label: "y", steps: [{ type: "exit", from: "$loop" }] }],
          },
        ],
      },
      {
        type: "sequence",
        label: "outer",
        steps: [
          {
            type: "sequence",
            steps: [
              { type: "exit", from: "outer" },
              { type: "map", set: { inner: "not reached" } },
            ],
          },
          { type: "map", set: { outer: "not reached" } },
        ],
      },
      { type: "map", set: { beforeFlowExit: "yes" } },
      { type: "exit", from: "$flow" },
      { type: "map", set: { afterFlowExit: "not reached" } },
    ],
  },
  {
    name: "t.steps:exitFailure",
    signature: { input: [str("who")], output: [] },
    steps: [
      { type: "map", set: { x: 1 } },
      {
        type: "sequence",
        steps: [{ type: "exit", from: "$flow", signal: "failure", message: "no access for %who%" }],
      },
    ],
  },
  {
    name: "t.steps:caller",
    signature: { input: [], output: [] },
    steps: [
      {
        type: "invoke",
        service: "t.steps:invokeMap",
        input: { set: { a: 2, b: 3 } },
        output: { copy: { fromChild: "sum" } },
      },
    ],
  },
  {
    name: "t.steps:callsFailing",
    signature: { input: [], output: [] },
    steps: [
      { type: "map", set: {} },
      { type: "invoke", service: "t.steps:sequenceFailure" },
    ],
  },
  {
    name: "t.steps:recursive",
    signature: { input: [], output: [] },
    steps: [{ type: "invoke", service: "t.steps:recursive" }],
  },
  {
    name: "t.steps:unknownService",
    signature: { input: [], output: [] },
    steps: [{ type: "invoke", service: "t.nothing:here" }],
  },
  {
    name: "t.steps:disabled",
    signature: { input: [], output: [] },
    steps: [
      { type: "map", disabled: true, set: { x: "disabled steps do not run" } },
      { type: "map", set: { y: 1 } },
    ],
  },
];

let server: FlowServer;
beforeAll(async () => {
  server = await startFlowServer({ StepTests: { ...flowPackage(flows), "services/flaky.mjs": flaky } });
  const pkg = await server.admin("GET", "/packages/StepTests");
  expect(pkg.body).toMatchObject({ loaded: true, errors: [] });
});
afterAll(() => server.close());

describe("INVOKE and MAP", () => {
  it("maps inputs to a copy, merges outputs, copies, sets and drops", async () => {
    const { status, body } = await server.invoke("t.steps/invokeMap", { a: 2, b: 40 });
    expect(status).toBe(200);
    expect(body).toEqual({
      a: 2,
      sum: 42,
      copies: { first: 2, list: [null, 42] },
      doc: { text: "sum=42", number: 7 },
      literal: "42",
      raw: "%sum%",
    });
  });

  it("a flow is a service other flows call, with the same input and output maps", async () => {
    const { status, body } = await server.invoke("t.steps:caller");
    expect(status).toBe(200);
    expect(body).toMatchObject({ fromChild: 5, sum: 5 });
  });

  it("an invalid input of the flow is a 400 before any step runs", async () => {
    const { status, body } = await server.invoke("t.steps/invokeMap", { a: "two" });
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: "invalid_input", field: "a" });
  });

  it("a failing service names the flow, the step and the cause", async () => {
    const { status, body } = await server.invoke("t.steps/unknownService");
    expect(status).toBe(500);
    expect(body).toMatchObject({
      error: "flow_failure",
      flow: "t.steps:unknownService",
      step: "/steps/0 (invoke t.nothing:here)",
    });
    expect(body.message).toContain("service t.nothing:here does not exist");
  });

  it("a failing child flow is named inside its caller's failure", async () => {
    const { status, body } = await server.invoke("t.steps/callsFailing");
    expect(status).toBe(500);
    expect(body.message).toBe(
      "flow t.steps:callsFailing failed at /steps/1 (invoke t.steps:sequenceFailure): flow t.steps:sequenceFailure failed at /steps/0/steps/1 (invoke pub.math:divideInts): num2 must not be 0",
    );
  });

  it("runaway recursion is stopped by the depth limit", async () => {
    const { status, body } = await server.invoke("t.steps/recursive");
    expect(status).toBe(500);
    expect(body.message).toContain("nested deeper than 64");
  });

  it("disabled steps are skipped", async () => {
    const { body } = await server.invoke("t.steps/disabled");
    expect(body).toEqual({ y: 1 });
  });
});

describe("substitution", () => {
  it("substitutes %name%, %doc/field%, %list[i]% and global variables; the pipeline wins; unknown is empty", async () => {
    await server.admin("PUT", "/global-variables/flowTestGlobal", { value: "G" });
    await server.admin("PUT", "/global-variables/fromPipeline", { value: "global loses" });
    const { status, body } = await server.invoke("t.steps/substitution");
    expect(status).toBe(200);
    expect(body).toMatchObject({
      all: "N/F/one/[]/[]/[]",
      global: "G",
      shadowed: "x",
      nested: { deep: ["N"] },
    });
  });

  it("a deleted global variable substitutes as empty", async () => {
    expect((await server.admin("DELETE", "/global-variables/flowTestGlobal")).status).toBe(204);
    const { body } = await server.invoke("t.steps/substitution");
    expect(body.global).toBe("");
  });
});

describe("BRANCH", () => {
  it.each([
    ["200", "ok"],
    ["404", "client error 404"],
    ["4040", "other"],
    [undefined, "none"],
    ["500", "other"],
  ])("switch value %s chooses %s", async (status, chosen) => {
    const { body } = await server.invoke("t.steps/branch", status === undefined ? {} : { status });
    expect(body.chosen).toBe(chosen);
  });

  it.each([
    [{ n: 11, kind: "big" }, "big"],
    [{ n: 11, kind: "small" }, "small"],
    [{ n: 3, kind: "big" }, "default"],
    [{ kind: "x" }, "no n"],
  ])("label expressions: %j chooses %s", async (input, chosen) => {
    const { body } = await server.invoke("t.steps/branchExpressions", input);
    expect(body.chosen).toBe(chosen);
  });
});

describe("LOOP", () => {
  it("runs once per element, collects the output array and restores the input array", async () => {
    const { status, body } = await server.invoke("t.steps/loop", { items: [1, 2, 3] });
    expect(status).toBe(200);
    expect(body).toEqual({ items: [1, 2, 3], doubled: [2, 4, 6], lastIteration: 2 });
  });

  it("an empty or missing array runs nothing", async () => {
    expect((await server.invoke("t.steps/loop", { items: [] })).body).toEqual({ items: [], doubled: [] });
    expect((await server.invoke("t.steps/loop", {})).body).toEqual({});
  });

  it("a value that is not a list is a failure naming the loop", async () => {
    const { status, body } = await server.invoke("t.steps/loopNotList");
    expect(status).toBe(500);
    expect(body.message).toBe(
      "flow t.steps:loopNotList failed at /steps/1 (loop over items): items is not a list",
    );
  });
});

describe("REPEAT", () => {
  it("retries on failure, restoring the pipeline, until the children succeed", async () => {
    const { status, body } = await server.invoke("t.steps/retry", { key: "a", failTimes: 2 });
    expect(status).toBe(200);
    expect(body).toMatchObject({ attempts: 3, touched: "yes" });
  });

  it("fails with the last failure once the count is used up", async () => {
    const { status, body } = await server.invoke("t.steps/retry", { key: "b", failTimes: 10 });
    expect(status).toBe(500);
    expect(body.message).toContain("flaky failure 4");
    expect(body.step).toBe("/steps/0/steps/1 (invoke t.util:flaky)");
  });

  it("repeats while successful, count more times", async () => {
    const { body } = await server.invoke("t.steps/repeatWhileSuccess");
    expect(body).toEqual({ n: 5 });
  });

  it("an endless repeat is stopped by the step limit, which TRY does not catch", async () => {
    const { status, body } = await server.invoke("t.steps/runaway");
    expect(status).toBe(500);
    expect(body.message).toContain("more than 50 steps");
    expect(body).not.toHaveProperty("caught");
  });
});

describe("SEQUENCE", () => {
  it("exit on success undoes a failing child and stops at the first success; done runs all", async () => {
    const { status, body } = await server.invoke("t.steps/sequences");
    expect(status).toBe(200);
    expect(body).toEqual({ success: "second", done1: "ran", done3: "ran" });
  });

  it("exit on failure stops at the first failure and fails", async () => {
    const { status, body } = await server.invoke("t.steps/sequenceFailure");
    expect(status).toBe(500);
    expect(body).toMatchObject({
      step: "/steps/0/steps/1 (invoke pub.math:divideInts)",
      cause: "division_by_zero",
    });
  });

  it("exit on success fails when every child fails", async () => {
    const { status, body } = await server.invoke("t.steps/allFail");
    expect(status).toBe(500);
    expect(body.message).toBe("flow t.steps:allFail failed at /steps/0/steps/1/steps/0 (exit): second fails");
  });
});

describe("TRY / CATCH / FINALLY", () => {
  it("catches a failure, reports it through getLastFailureCaught, and runs finally", async () => {
    const { status, body } = await server.invoke("t.steps/tryCatch");
    expect(status).toBe(200);
    expect(body).toMatchObject({
      before: "set",
      handled: "yes",
      finally: "ran",
      failure: true,
      failureName: "division_by_zero",
      failureMessage: "num2 must not be 0",
      failureStep: "/steps/0/steps/1 (invoke pub.math:divideInts)",
      outside: true,
    });
    expect(body).not.toHaveProperty("after");
  });

  it("without a catch the failure stays", async () => {
    const { status, body } = await server.invoke("t.steps/tryFinallyFails");
    expect(status).toBe(500);
    expect(body.message).toContain("from the try block");
  });
});

describe("EXIT", () => {
  it("leaves the parent, the loop, a labelled step and the flow", async () => {
    const { status, body } = await server.invoke("t.steps/exits");
    expect(status).toBe(200);
    expect(body).toEqual({
      a: 1,
      afterParent: "yes",
      items: ["x", "y", "z"],
      seen: "y",
      beforeFlowExit: "yes",
    });
  });

  it("a failure exit fails the flow with its substituted message", async () => {
    const { status, body } = await server.invoke("t.steps/exitFailure", { who: "bob" });
    expect(status).toBe(500);
    expect(body).toMatchObject({
      error: "flow_failure",
      message: "flow t.steps:exitFailure failed at /steps/1/steps/0 (exit): no access for bob",
      step: "/steps/1/steps/0 (exit)",
    });
  });
});

describe("access", () => {
  it("a flow without an ACL of its own has Default: anonymous callers get 401", async () => {
    const { status } = await server.invoke("t.steps/disabled", {}, null);
    expect(status).toBe(401);
  });
});

describe("the step registry", () => {
  it("has exactly the step kinds the published schema describes", () => {
    const inSchema = flowSchema.definitions.step.oneOf.map((s) => s.properties.type.const).sort();
    expect(builtinSteps().types()).toEqual(inSchema);
  });

  it("refuses a step kind registered twice", () => {
    expect(() => builtinSteps().register(invokeStep)).toThrow('step kind "invoke" is registered twice');
  });
});
