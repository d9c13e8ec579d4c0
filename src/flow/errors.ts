import { ConduitError } from "../kernel/errors.js";

/**
 * A flow that failed: names the flow, the step (as a JSON pointer into the flow file, with the step's kind)
 * and the cause. The status is the cause's when a server the flow depends on is unreachable (503), else 500.
 */
export class FlowError extends ConduitError {
  constructor(
    readonly flow: string,
    readonly step: string,
    readonly causeMessage: string,
    cause?: unknown,
  ) {
    const status = cause instanceof ConduitError && cause.status === 503 ? 503 : 500;
    super(status, "flow_failure", `flow ${flow} failed at ${step}: ${causeMessage}`, {
      cause,
      details: {
        flow,
        step,
        ...(cause instanceof ConduitError && cause.code !== "flow_failure" ? { cause: cause.code } : {}),
      },
      ...(cause instanceof ConduitError && cause.status === 503 ? { headers: cause.headers } : {}),
    });
  }

  /** Written by the flow's author for its caller, as IS shows it; never a stack. */
  override get expose(): boolean {
    return true;
  }
}

/** EXIT in flight: caught by the step it targets. Not a failure until it reaches its target. */
export class ExitSignal {
  constructor(
    /** `$flow`, `$parent`, `$loop` or a label. */
    readonly from: string,
    readonly signal: "success" | "failure",
    readonly message: string,
    /** Pointer of the EXIT step. */
    readonly at: string,
  ) {}
}

/** A failure raised by EXIT with signal failure, once it reached its target step. */
export class ExitFailure extends Error {
  constructor(
    message: string,
    readonly at: string,
  ) {
    super(message);
    this.name = "ExitFailure";
  }
}

/** A definition that does not validate: every problem with its path in the file. */
export class FlowDefinitionError extends ConduitError {
  constructor(
    message: string,
    readonly problems: { path: string; message: string }[],
  ) {
    super(400, "invalid_flow", message, { details: { problems } });
  }
}
