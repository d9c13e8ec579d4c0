import type { Signature } from "../services/types.js";

/**
 * A flow service as written in a flow file (JSON or YAML, checked against schema.json). Steps are plain
 * objects discriminated by `type`; each kind is implemented by one file of steps/.
 */
export interface FlowDefinition {
  /** Fully qualified service name, `folder.sub:service`. */
  name: string;
  description?: string;
  signature: Signature;
  /** Lower bound of the server's step limit for one invocation of this flow. */
  maxSteps?: number;
  steps: Step[];
}

/** What every step may carry. */
export interface StepBase {
  type: string;
  /** A name EXIT can target (`from: <label>`); for BRANCH children, the value they match. */
  label?: string;
  comment?: string;
  /** A disabled step is skipped, as in Designer. */
  disabled?: boolean;
}

/** MAP and the input/output maps of INVOKE: copy (link), then set, then drop. */
export interface MapSpec {
  /** Target path ← source path. */
  copy?: Record<string, string>;
  /** Target path ← value; strings substitute `%pipeline/path%` and `%globalVariable%`. */
  set?: Record<string, unknown>;
  /** Whether `set` substitutes variables (default true). */
  substitute?: boolean;
  drop?: string[];
}

export interface InvokeStep extends StepBase {
  type: "invoke";
  service: string;
  input?: MapSpec;
  output?: MapSpec;
}

export interface MapStep extends StepBase, MapSpec {
  type: "map";
}

export interface BranchCase {
  /** A value to match (`$null`, `$default`, `/regex/`), or an expression when `evaluateLabels` is set. */
  label: string;
  steps: Step[];
}

export interface BranchStep extends StepBase {
  type: "branch";
  /** Pipeline path whose value selects the case; omitted with `evaluateLabels`. */
  switch?: string;
  evaluateLabels?: boolean;
  cases: BranchCase[];
}

export interface LoopStep extends StepBase {
  type: "loop";
  /** Pipeline path of the input array; inside the loop it holds the current element. */
  over: string;
  /** Pipeline path of an element each iteration leaves; after the loop it holds the array of them. */
  output?: string;
  steps: Step[];
}

export interface RepeatStep extends StepBase {
  type: "repeat";
  /** How many times to repeat (after the first run); -1: until the step limit. */
  count: number;
  /** Seconds to wait between runs. */
  interval?: number;
  /** `failure` (default): retry while the children fail; `success`: repeat while they succeed. */
  repeatOn?: "failure" | "success";
  steps: Step[];
}

export interface SequenceStep extends StepBase {
  type: "sequence";
  /** `failure` (default): stop at the first failure; `success`: stop at the first success; `done`: run all. */
  exitOn?: "failure" | "success" | "done";
  steps: Step[];
}

export interface TryStep extends StepBase {
  type: "try";
  steps: Step[];
  catch?: Step[];
  finally?: Step[];
}

export interface ExitStep extends StepBase {
  type: "exit";
  /** `$flow`, `$parent` (default), `$loop`, or the label of an enclosing step. */
  from?: string;
  signal?: "success" | "failure";
  /** The failure message; substitutes `%variables%`. */
  message?: string;
}

export type Step =
  InvokeStep | MapStep | BranchStep | LoopStep | RepeatStep | SequenceStep | TryStep | ExitStep;
