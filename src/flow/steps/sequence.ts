import { StepFailure, type StepKind } from "../engine.js";
import { clonePipeline, restorePipeline } from "../paths.js";
import type { SequenceStep } from "../types.js";

/**
 * SEQUENCE: `exitOn: failure` (the default) runs the children in order and fails at the first failure.
 * `success` stops at the first child that succeeds; a failing child's changes are undone and the next one
 * runs; if every child fails, the SEQUENCE fails with the last failure. `done` runs every child, undoing
 * the changes of the ones that fail, and succeeds.
 */
export const sequenceStep: StepKind<SequenceStep> = {
  type: "sequence",
  children: (step) => [{ steps: step.steps, at: "/steps" }],
  describe: (step) => `sequence (exit on ${step.exitOn ?? "failure"})`,
  async execute(step, pipeline, context) {
    const at = `${context.pointer}/steps`;
    const mode = step.exitOn ?? "failure";
    if (mode === "failure") return context.runSteps(step.steps, pipeline, at);
    let last: StepFailure | undefined;
    for (const [index, child] of step.steps.entries()) {
      if (child.disabled) continue;
      const snapshot = clonePipeline(pipeline);
      try {
        await context.runStep(child, pipeline, `${at}/${index}`);
        if (mode === "success") return;
      } catch (error) {
        if (!(error instanceof StepFailure) || !error.catchable) throw error;
        restorePipeline(pipeline, snapshot);
        last = error;
      }
    }
    if (mode === "success" && last) throw last;
  },
};
