import { substitute } from "../../services/substitution.js";
import type { StepKind } from "../engine.js";
import { ExitSignal } from "../errors.js";
import type { ExitStep } from "../types.js";

/**
 * EXIT: leaves the flow (`$flow`), the enclosing step (`$parent`, the default), the nearest LOOP or REPEAT
 * (`$loop`) or the enclosing step with that label, signalling success or failure (with `message`, which
 * substitutes %variables%). A failure exit fails the step it leaves, which TRY and SEQUENCE can handle.
 */
export const exitStep: StepKind<ExitStep> = {
  type: "exit",
  describe: (step) => `exit from ${step.from ?? "$parent"}`,
  check(step, pointer, ancestors) {
    const from = step.from ?? "$parent";
    if (from === "$loop" && !ancestors.some((a) => a.type === "loop" || a.type === "repeat"))
      return [{ path: `${pointer}/from`, message: "EXIT from $loop outside a LOOP or REPEAT" }];
    if (!from.startsWith("$") && !ancestors.some((a) => a.label === from))
      return [{ path: `${pointer}/from`, message: `no enclosing step is labelled "${from}"` }];
    if (from.startsWith("$") && !["$flow", "$parent", "$loop"].includes(from))
      return [{ path: `${pointer}/from`, message: "from is $flow, $parent, $loop or an enclosing label" }];
    return [];
  },
  async execute(step, pipeline, context) {
    const signal = step.signal ?? "success";
    const message =
      step.message !== undefined
        ? substitute(step.message, pipeline, context.globals)
        : signal === "failure"
          ? "EXIT signalled failure"
          : "";
    throw new ExitSignal(step.from ?? "$parent", signal, message, context.pointer);
  },
};
