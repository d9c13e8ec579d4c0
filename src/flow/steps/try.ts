import { StepFailure, type StepKind } from "../engine.js";
import type { Step, TryStep } from "../types.js";

/**
 * TRY / CATCH / FINALLY: runs `steps`; if one fails, runs `catch` (where pub.flow:getLastFailureCaught
 * reports the failure); without a `catch`, the failure stays. `finally` runs in every case, and its own
 * failure wins. An EXIT passing through still runs `finally`.
 */
export const tryStep: StepKind<TryStep> = {
  type: "try",
  children: (step) => {
    const lists: { steps: Step[]; at: string }[] = [{ steps: step.steps, at: "/steps" }];
    if (step.catch) lists.push({ steps: step.catch, at: "/catch" });
    if (step.finally) lists.push({ steps: step.finally, at: "/finally" });
    return lists;
  },
  describe: () => "try",
  async execute(step, pipeline, context) {
    try {
      try {
        await context.runSteps(step.steps, pipeline, `${context.pointer}/steps`);
      } catch (error) {
        if (!(error instanceof StepFailure) || !error.catchable || !step.catch) throw error;
        context.caught(error);
        await context.runSteps(step.catch, pipeline, `${context.pointer}/catch`);
      }
    } finally {
      if (step.finally) await context.runSteps(step.finally, pipeline, `${context.pointer}/finally`);
    }
  },
};
