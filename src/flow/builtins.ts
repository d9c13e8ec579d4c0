import { defineService, type ServiceDefinition } from "../services/types.js";
import { lastFailureCaught } from "./engine.js";

/** pub.flow services that need the flow engine. */
export const flowEngineServices: ServiceDefinition[] = [
  defineService({
    name: "pub.flow:getLastFailureCaught",
    description:
      "In a CATCH: the failure the TRY caught (failure: true, failureName, failureMessage, failureStep); else failure: false.",
    signature: {
      input: [],
      output: [
        { name: "failure", type: "boolean" },
        { name: "failureName", type: "string" },
        { name: "failureMessage", type: "string" },
        { name: "failureStep", type: "string" },
      ],
    },
    run: () => {
      const caught = lastFailureCaught();
      if (!caught) return { failure: false };
      return {
        failure: true,
        failureName: caught.name,
        failureMessage: caught.message,
        failureStep: caught.step,
      };
    },
  }),
];
