import { StepFailure, type StepKind } from "../engine.js";
import { clonePipeline, restorePipeline } from "../paths.js";
import type { RepeatStep } from "../types.js";

/**
 * REPEAT: with `repeatOn: failure` (the default) runs its steps, and while they fail, restores the
 * pipeline, waits `interval` seconds and runs them again, up to `count` more times; the last failure is the
 * REPEAT's. With `repeatOn: success` runs them again while they succeed, up to `count` more times; a
 * failing pass restores the pipeline and ends the REPEAT without failing it. `count: -1` repeats until the
 * flow's step limit.
 */
export const repeatStep: StepKind<RepeatStep> = {
  type: "repeat",
  children: (step) => [{ steps: step.steps, at: "/steps" }],
  describe: (step) => `repeat on ${step.repeatOn ?? "failure"}`,
  async execute(step, pipeline, context) {
    const at = `${context.pointer}/steps`;
    const waitMs = Math.round((step.interval ?? 0) * 1000);
    for (let pass = 0; step.count < 0 || pass <= step.count; pass += 1) {
      if (pass > 0) context.charge();
      if (pass > 0 && waitMs > 0) await context.sleep(waitMs);
      const snapshot = clonePipeline(pipeline);
      try {
        await context.runSteps(step.steps, pipeline, at);
      } catch (error) {
        if (!(error instanceof StepFailure) || !error.catchable) throw error;
        restorePipeline(pipeline, snapshot);
        if (step.repeatOn === "success") return;
        if (step.count >= 0 && pass === step.count) throw error;
        continue;
      }
      if (step.repeatOn !== "success") return;
    }
  },
};
