import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flowPackage, startFlowServer, type FlowServer } from "./support.js";

/** Arbitrary bodies on the flow and global-variable admin routes: a client error or success, never a 5xx. */
let server: FlowServer;
beforeAll(async () => {
  server = await startFlowServer({ Fuzz: flowPackage([]) });
});
afterAll(() => server.close());

const stepish = fc.letrec((tie) => ({
  step: fc.record(
    {
      type: fc.constantFrom("invoke", "map", "branch", "loop", "repeat", "sequence", "try", "exit", "other"),
      service: fc.oneof(fc.string(), fc.constant("pub.math:addInts")),
      set: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })),
      copy: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })),
      drop: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
      switch: fc.string({ maxLength: 8 }),
      evaluateLabels: fc.boolean(),
      cases: fc.array(
        fc.record({ label: fc.string({ maxLength: 12 }), steps: fc.array(tie("step"), { maxLength: 2 }) }),
        {
          maxLength: 2,
        },
      ),
      over: fc.string({ maxLength: 8 }),
      count: fc.integer({ min: -2, max: 3 }),
      from: fc.constantFrom("$flow", "$parent", "$loop", "$other", "label"),
      label: fc.string({ maxLength: 5 }),
      steps: fc.array(tie("step"), { maxLength: 2 }),
    },
    { requiredKeys: ["type"] },
  ),
}));

describe("hostile input on the flow admin API", () => {
  it("PUT /flows/{name} answers 2xx or 4xx for arbitrary definitions", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue({ maxDepth: 3 }),
          fc.record({ steps: fc.array(stepish.step, { maxLength: 3 }) }),
          fc.string({ maxLength: 40 }),
        ),
        async (definition) => {
          const { status } = await server.admin("PUT", "/flows/fuzz.x:y", { package: "Fuzz", definition });
          expect(status).toBeLessThan(500);
          if (status < 300) {
            const run = await server.invoke("fuzz.x/y", {});
            expect([200, 400, 500]).toContain(run.status);
            if (run.status === 500) expect(run.body.error).toBe("flow_failure");
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("PUT /global-variables/{name} answers 2xx or 4xx for arbitrary names and bodies", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.jsonValue({ maxDepth: 2 }),
        async (name, body) => {
          const { status } = await server.admin("PUT", `/global-variables/${encodeURIComponent(name)}`, body);
          expect(status).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
  });
});
