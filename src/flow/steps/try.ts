import { StepFailure, type StepKind } from "../engine.js";
import { ExitFailure, ExitSignal } from "../errors.js";
import type { Step, TryStep } from "../types.js";

/**
 * TRY / CATCH / FINALLY: runs `steps`; if one fails, runs `catch` (where pub.flow:getLastFailureCaught
 * reports the failure); without a `catch`, the failure stays. `finally` runs in every case, and its own
 * failure wins. An EXIT passing through still runs `finally`. An EXIT with failure from the TRY block to
 * its parent (the TRY) is a failure the CATCH handles, as in IS, where raising one is that idiom.
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
        await context.runSteps(step.steps, pipeline, `${context.pointer}/steps`).catch(failingExit(step));
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

/** Turns an EXIT failure that targets this TRY (`$parent` or its label) into a failure of its block. */
function failingExit(step: TryStep): (error: unknown) => never {
  return (error) => {
    const targeted =
      error instanceof ExitSignal &&
      error.signal === "failure" &&
      (error.from === "$parent" || (step.label !== undefined && error.from === step.label));
    if (!targeted) throw error;
    throw new StepFailure(error.at, "exit", new ExitFailure(error.message, error.at));
  };
}
