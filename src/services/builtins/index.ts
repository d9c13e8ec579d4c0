import type { SecretValues } from "../masking.js";
import type { ServiceDefinition } from "../types.js";
import { dateServices } from "./date.js";
import { flowServices } from "./flow.js";
import { jsonServices } from "./json.js";
import { mathServices } from "./math.js";
import { stringServices } from "./string.js";

/** Every built-in `pub.*` service. Other subsystems (pub.oauth, pub.client) register their own. */
export function builtinServices(options: { secrets: SecretValues }): ServiceDefinition[] {
  return [
    ...mathServices,
    ...stringServices,
    ...flowServices(options.secrets),
    ...jsonServices,
    ...dateServices,
  ];
}
