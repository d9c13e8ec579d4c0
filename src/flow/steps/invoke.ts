import { isServiceName } from "../../services/types.js";
import type { StepKind } from "../engine.js";
import { applyMap } from "../mapping.js";
import { clonePipeline, defineField } from "../paths.js";
import type { InvokeStep } from "../types.js";
import { checkMap } from "./map.js";

/**
 * INVOKE: runs a service as the flow's principal. The input map builds the service's input from a copy of
 * the pipeline (it does not change the pipeline); the service's output is merged into the pipeline, then
 * the output map runs on the pipeline.
 */
export const invokeStep: StepKind<InvokeStep> = {
  type: "invoke",
  check: (step, pointer) => [
    ...(isServiceName(step.service)
      ? []
      : [
          {
            path: `${pointer}/service`,
            message: `"${step.service}" is not a service name (folder.sub:service)`,
          },
        ]),
    ...checkMap(step.input, `${pointer}/input`),
    ...checkMap(step.output, `${pointer}/output`),
  ],
  describe: (step) => `invoke ${step.service}`,
  async execute(step, pipeline, context) {
    const input = clonePipeline(pipeline);
    applyMap(input, step.input, context.globals);
    const output = await context.service.invoke(step.service, input);
    for (const [key, value] of Object.entries(output)) defineField(pipeline, key, value);
    applyMap(pipeline, step.output, context.globals);
  },
};
