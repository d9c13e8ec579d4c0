import type { Problem, StepKind } from "../engine.js";
import { dropPath, getPath, isPath, setPath } from "../paths.js";
import type { LoopStep } from "../types.js";

/**
 * LOOP: runs its steps once per element of the `over` array; inside, `over` holds the current element and
 * `$iteration` its index (from 0). With `output`, the value each pass leaves there is collected, and after
 * the loop `output` holds the array of them. The input array is restored afterwards. A missing array
 * runs nothing; a value that is not an array is a failure.
 */
export const loopStep: StepKind<LoopStep> = {
  type: "loop",
  children: (step) => [{ steps: step.steps, at: "/steps" }],
  describe: (step) => `loop over ${step.over}`,
  check(step, pointer) {
    const problems: Problem[] = [];
    if (!isPath(step.over))
      problems.push({ path: `${pointer}/over`, message: `"${step.over}" is not a pipeline path` });
    if (step.output !== undefined && !isPath(step.output))
      problems.push({ path: `${pointer}/output`, message: `"${step.output}" is not a pipeline path` });
    return problems;
  },
  async execute(step, pipeline, context) {
    const items = getPath(pipeline, step.over);
    if (items === undefined || items === null) return;
    if (!Array.isArray(items)) throw new Error(`${step.over} is not a list`);
    const collected: unknown[] = [];
    const outer = pipeline.$iteration;
    try {
      for (const [index, item] of items.entries()) {
        setPath(pipeline, step.over, item);
        pipeline.$iteration = index;
        if (step.output !== undefined) dropPath(pipeline, step.output);
        await context.runSteps(step.steps, pipeline, `${context.pointer}/steps`);
        if (step.output !== undefined) collected.push(getPath(pipeline, step.output));
      }
    } finally {
      setPath(pipeline, step.over, items);
      if (outer === undefined) delete pipeline.$iteration;
      else pipeline.$iteration = outer;
      if (step.output !== undefined) setPath(pipeline, step.output, collected);
    }
  },
};
