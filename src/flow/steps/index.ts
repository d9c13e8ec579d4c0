import { StepRegistry } from "../engine.js";
import { branchStep } from "./branch.js";
import { exitStep } from "./exit.js";
import { invokeStep } from "./invoke.js";
import { loopStep } from "./loop.js";
import { mapStep } from "./map.js";
import { repeatStep } from "./repeat.js";
import { sequenceStep } from "./sequence.js";
import { tryStep } from "./try.js";

/** Every built-in step kind, one file each. */
export function builtinSteps(): StepRegistry {
  return new StepRegistry()
    .register(invokeStep)
    .register(mapStep)
    .register(branchStep)
    .register(loopStep)
    .register(repeatStep)
    .register(sequenceStep)
    .register(tryStep)
    .register(exitStep);
}
