import { AsyncLocalStorage } from "node:async_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { ConduitError, ConfigurationError } from "../kernel/errors.js";
import type { SecretValues } from "../services/masking.js";
import type { Pipeline, ServiceContext } from "../services/types.js";
import { ExitFailure, ExitSignal, FlowError } from "./errors.js";
import type { GlobalLookup } from "./mapping.js";
import { deepCopy } from "./paths.js";
import { redactError, redactText } from "./redact.js";
import type { FlowDefinition, Step } from "./types.js";

/** A problem found in a definition, with the JSON pointer of the offending part of the file. */
export interface Problem {
  path: string;
  message: string;
}

/** A step failure located at the innermost step where it happened (a JSON pointer into the flow file). */
export class StepFailure extends Error {
  constructor(
    readonly pointer: string,
    readonly description: string,
    readonly reason: unknown,
  ) {
    // An error that may not be shown (a ConduitError >= 500 other than 503) stays in the log only.
    super(
      reason instanceof ConduitError && !reason.expose
        ? "internal server error"
        : reason instanceof Error
          ? reason.message
          : String(reason),
    );
    this.name = "StepFailure";
  }

  /** Whether TRY, SEQUENCE and REPEAT may handle it: limits are never caught, so runaways end. */
  get catchable(): boolean {
    let reason = this.reason;
    while (reason instanceof StepFailure || reason instanceof FlowError)
      reason = reason instanceof StepFailure ? reason.reason : reason.cause;
    return !(reason instanceof FlowLimitError);
  }
}

/** The step limit of one flow invocation was reached. */
export class FlowLimitError extends Error {
  constructor(limit: number) {
    super(`the flow ran more than ${limit} steps (a runaway loop or repeat?)`);
    this.name = "FlowLimitError";
  }
}

/** What pub.flow:getLastFailureCaught reports: the failure the innermost CATCH is handling. */
export interface CaughtFailure {
  name: string;
  message: string;
  step: string;
  service?: string;
}

/** Steps run so far by a top-level flow and every flow it calls, directly or not. */
interface Budget {
  used: number;
  readonly limit: number;
}

interface Frame {
  lastFailure: CaughtFailure | undefined;
  /** Shared with the flows this one calls, so recursion that fans out cannot multiply the limit. */
  budget: Budget;
}

const frames = new AsyncLocalStorage<Frame>();

/** The failure last caught by a TRY of the flow that is running (undefined outside a CATCH). */
export function lastFailureCaught(): CaughtFailure | undefined {
  return frames.getStore()?.lastFailure;
}

/** What a step kind is given to run: its place, the flow's services, and a way to run children. */
export interface StepContext {
  readonly flow: FlowDefinition;
  readonly service: ServiceContext;
  readonly pointer: string;
  readonly globals: GlobalLookup;
  /** Runs one child step; a failure is thrown as a StepFailure. */
  runStep(step: Step, pipeline: Pipeline, pointer: string): Promise<void>;
  /** Runs children in order, stopping at the first failure. */
  runSteps(steps: Step[], pipeline: Pipeline, pointer: string): Promise<void>;
  /** Records the failure a CATCH handles, for pub.flow:getLastFailureCaught. */
  caught(failure: StepFailure): void;
  /** Counts one unit of work against the step limit (a REPEAT pass); throws FlowLimitError past it. */
  charge(): void;
  sleep(ms: number): Promise<void>;
}

/** One kind of step: its type name, load-time checks beyond the schema, and how it runs. */
export interface StepKind<S extends Step = Step> {
  readonly type: S["type"];
  /** Problems the schema cannot see (expressions, labels, targets). `ancestors` are the enclosing steps. */
  check?(step: S, pointer: string, ancestors: Step[]): Problem[];
  /** Child step lists with their pointer suffixes, for checks and exit handling. */
  children?(step: S): { steps: Step[]; at: string }[];
  /** A short description for error messages (`invoke pub.client:http`). */
  describe?(step: S): string;
  execute(step: S, pipeline: Pipeline, context: StepContext): Promise<void>;
}

/** The step kinds by type. Registering a type twice is an error (at start-up). */
export class StepRegistry {
  private readonly kinds = new Map<string, StepKind>();

  register<S extends Step>(kind: StepKind<S>): this {
    if (this.kinds.has(kind.type))
      throw new ConfigurationError(`step kind "${kind.type}" is registered twice`);
    this.kinds.set(kind.type, kind as unknown as StepKind);
    return this;
  }

  get(type: string): StepKind | undefined {
    return this.kinds.get(type);
  }

  types(): string[] {
    return [...this.kinds.keys()].sort();
  }
}

export interface EngineOptions {
  /** Steps one invocation of a flow may run (loops and repeats count each pass). */
  maxSteps: number;
  globals: GlobalLookup;
  /** Secret values to mask in failure messages (secret global variables). */
  secrets?: SecretValues;
}

export const DEFAULT_MAX_STEPS = 100_000;

/** Runs flow definitions. Stateless between invocations; one instance serves every flow. */
export class FlowEngine {
  constructor(
    readonly kinds: StepRegistry,
    private readonly options: EngineOptions,
  ) {}

  /** Load-time checks of every step (the schema has been checked already). */
  check(flow: FlowDefinition): Problem[] {
    const problems: Problem[] = [];
    const visit = (steps: Step[], at: string, ancestors: Step[]) =>
      steps.forEach((step, index) => {
        const pointer = `${at}/${index}`;
        const kind = this.kinds.get(step.type);
        if (!kind) {
          problems.push({ path: pointer, message: `unknown step type "${step.type}"` });
          return;
        }
        problems.push(...(kind.check?.(step, pointer, ancestors) ?? []));
        for (const child of kind.children?.(step) ?? [])
          visit(child.steps, `${pointer}${child.at}`, [...ancestors, step]);
      });
    visit(flow.steps, "/steps", []);
    return problems;
  }

  describe(step: Step): string {
    return this.kinds.get(step.type)?.describe?.(step) ?? step.type;
  }

  async run(flow: FlowDefinition, input: Pipeline, service: ServiceContext): Promise<Pipeline> {
    const pipeline = deepCopy(input);
    const limit = Math.min(flow.maxSteps ?? this.options.maxSteps, this.options.maxSteps);
    let count = 0;
    const secrets = this.options.secrets ?? (() => []);
    const budget = frames.getStore()?.budget ?? { used: 0, limit };
    const frame: Frame = { lastFailure: undefined, budget };
    const charge = () => {
      count += 1;
      budget.used += 1;
      if (count > limit) throw new FlowLimitError(limit);
      if (budget.used > budget.limit) throw new FlowLimitError(budget.limit);
    };
    const context: Omit<StepContext, "pointer"> = {
      flow,
      service,
      globals: this.options.globals,
      runStep: (step, p, pointer) => runStep(step, p, pointer),
      runSteps: async (steps, p, at) => {
        for (const [index, step] of steps.entries()) await runStep(step, p, `${at}/${index}`);
      },
      caught: (failure) => {
        frame.lastFailure = describeFailure(failure, secrets);
      },
      charge,
      sleep: (ms) => sleep(ms),
    };
    const runStep = async (step: Step, p: Pipeline, pointer: string): Promise<void> => {
      if (step.disabled) return;
      try {
        charge();
      } catch (error) {
        throw new StepFailure(pointer, this.describe(step), error);
      }
      const kind = this.kinds.get(step.type);
      if (!kind) throw new StepFailure(pointer, step.type, new Error(`unknown step type "${step.type}"`));
      try {
        await kind.execute(step, p, { ...context, pointer });
      } catch (error) {
        if (error instanceof StepFailure) throw error;
        if (error instanceof ExitSignal) {
          if (step.type === "exit" || !exits(step, error)) throw error;
          if (error.signal === "success") return;
          throw new StepFailure(error.at, "exit", new ExitFailure(error.message, error.at));
        }
        throw new StepFailure(pointer, this.describe(step), error);
      }
    };

    return frames.run(frame, async () => {
      try {
        await context.runSteps(flow.steps, pipeline, "/steps");
      } catch (error) {
        const failure = flowFailure(flow, error, secrets);
        if (failure !== undefined) throw failure;
      }
      return pipeline;
    });
  }
}

/**
 * The error a flow fails with (or undefined for an EXIT from the flow with success, which is none), its
 * messages and those of its causes with secret values masked.
 */
function flowFailure(flow: FlowDefinition, error: unknown, secrets: SecretValues): unknown {
  if (error instanceof ExitSignal) {
    if (error.signal === "success") return undefined;
    return new FlowError(flow.name, `${error.at} (exit)`, redactText(error.message, secrets));
  }
  if (!(error instanceof StepFailure)) return error;
  redactError(error, secrets);
  return new FlowError(flow.name, `${error.pointer} (${error.description})`, error.message, error.reason);
}

/** Whether a step is the target of an EXIT passing through it. */
function exits(step: Step, signal: ExitSignal): boolean {
  if (signal.from === "$flow") return false;
  if (signal.from === "$parent") return true;
  if (signal.from === "$loop") return step.type === "loop" || step.type === "repeat";
  return step.label === signal.from;
}

function describeFailure(failure: StepFailure, secrets: SecretValues): CaughtFailure {
  let reason: unknown = failure.reason;
  const service = reason instanceof FlowError ? reason.flow : undefined;
  while (reason instanceof StepFailure) reason = reason.reason;
  const name = reason instanceof ConduitError ? reason.code : reason instanceof Error ? reason.name : "Error";
  return {
    name,
    message: redactText(failure.message, secrets),
    step: `${failure.pointer} (${failure.description})`,
    ...(service ? { service } : {}),
  };
}
