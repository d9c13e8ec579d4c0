import type { Pipeline } from "../../services/types.js";
import type { Problem, StepKind } from "../engine.js";
import { compileExpression, type Expression } from "../expression.js";
import { getPath, isPath } from "../paths.js";
import { MAX_MATCHED, unsafePattern } from "../regex.js";
import type { BranchCase, BranchStep } from "../types.js";

const compiled = new WeakMap<BranchCase, Expression | RegExp>();

/** `/pattern/` labels match as regular expressions, as in IS (patterns that may backtrack are refused). */
function regexLabel(label: string): RegExp | undefined {
  const m = /^\/(.*)\/$/s.exec(label);
  if (!m) return undefined;
  const unsafe = unsafePattern(m[1]!);
  if (unsafe) throw new SyntaxError(`the pattern is refused: ${unsafe}`);
  return new RegExp(m[1]!);
}

function matcher(step: BranchStep, branch: BranchCase): Expression | RegExp | undefined {
  let found = compiled.get(branch);
  if (!found && branch.label !== "$default" && branch.label !== "$null") {
    found = step.evaluateLabels ? compileExpression(branch.label) : regexLabel(branch.label);
    if (found) compiled.set(branch, found);
  }
  return found;
}

function matches(step: BranchStep, branch: BranchCase, pipeline: Pipeline, value: unknown): boolean {
  const test = matcher(step, branch);
  if (step.evaluateLabels) return branch.label !== "$default" && Boolean((test as Expression)(pipeline));
  if (branch.label === "$null") return value === undefined || value === null;
  if (value === undefined || value === null || branch.label === "$default") return false;
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  if (!(test instanceof RegExp)) return text === branch.label;
  return text.length <= MAX_MATCHED && test.test(text);
}

/**
 * BRANCH: runs the first case whose label matches the switch value (exact text, `/regex/`, `$null` for a
 * missing value), else the `$default` case, else nothing. With evaluateLabels, each label is an expression
 * (see expression.ts) and the first true one runs.
 */
export const branchStep: StepKind<BranchStep> = {
  type: "branch",
  children: (step) => step.cases.map((c, i) => ({ steps: c.steps, at: `/cases/${i}/steps` })),
  describe: (step) => (step.switch ? `branch on ${step.switch}` : "branch"),
  check(step, pointer) {
    const problems: Problem[] = [];
    if (step.evaluateLabels && step.switch !== undefined)
      problems.push({ path: `${pointer}/switch`, message: "use either switch or evaluateLabels, not both" });
    if (!step.evaluateLabels && step.switch === undefined)
      problems.push({ path: pointer, message: "a branch needs a switch path or evaluateLabels: true" });
    if (step.switch !== undefined && !isPath(step.switch))
      problems.push({ path: `${pointer}/switch`, message: `"${step.switch}" is not a pipeline path` });
    const seen = new Set<string>();
    step.cases.forEach((c, i) => {
      if (seen.has(c.label))
        problems.push({ path: `${pointer}/cases/${i}/label`, message: `label "${c.label}" appears twice` });
      seen.add(c.label);
      try {
        matcher(step, c);
      } catch (error) {
        problems.push({ path: `${pointer}/cases/${i}/label`, message: (error as Error).message });
      }
    });
    return problems;
  },
  async execute(step, pipeline, context) {
    const value = step.switch === undefined ? undefined : getPath(pipeline, step.switch);
    const index = step.cases.findIndex((c) => matches(step, c, pipeline, value));
    const chosen = index >= 0 ? index : step.cases.findIndex((c) => c.label === "$default");
    if (chosen < 0) return;
    await context.runSteps(step.cases[chosen]!.steps, pipeline, `${context.pointer}/cases/${chosen}/steps`);
  },
};
