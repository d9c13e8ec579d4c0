import { defineService, type ServiceDefinition } from "../services/types.js";
import type { FlowEngine } from "./engine.js";
import type { FlowDefinition } from "./types.js";

/** A flow as a service like any other: /invoke and other flows call it; `run` executes the engine. */
export function flowService(flow: FlowDefinition, engine: FlowEngine): ServiceDefinition {
  return defineService({
    name: flow.name,
    description: flow.description ?? "",
    signature: flow.signature,
    run: (input, ctx) => engine.run(flow, input, ctx),
  });
}
