import { BadRequestError, NotFoundError } from "../kernel/errors.js";
import type { Logger } from "../kernel/logger.js";
import type { GlobalVariable, GlobalVariables } from "../flow/global-variables.js";
import type { ChangeFeed } from "../storage/change-feed.js";
import { audit, type Actor } from "./audit.js";
import { asBody, bool, onlyFields } from "./input.js";

/** Global variable names: letters, digits, `_`, `.`, `-`, starting with a letter or `_` (usable as %name%). */
export const GLOBAL_NAME = /^[A-Za-z_][\w.-]{0,254}$/;
const MAX_VALUE = 64 * 1024;

export interface GlobalVariableView {
  name: string;
  /** Absent for secret variables: a secret value is never returned. */
  value?: string;
  secret: boolean;
  createdAt: string;
  updatedAt: string;
}

function view(variable: GlobalVariable): GlobalVariableView {
  return {
    name: variable.name,
    ...(variable.secret ? {} : { value: variable.value }),
    secret: variable.secret,
    createdAt: new Date(variable.createdAt).toISOString(),
    updatedAt: new Date(variable.updatedAt).toISOString(),
  };
}

/** The use-cases behind /admin/api/global-variables; every write is audited, never with a value. */
export class GlobalVariablesAdmin {
  constructor(
    private readonly variables: GlobalVariables,
    private readonly changes: ChangeFeed,
    private readonly log: Logger,
  ) {}

  list(): GlobalVariableView[] {
    return this.variables.list().map(view);
  }

  get(name: string): GlobalVariableView {
    const variable = this.variables.get(name);
    if (!variable)
      throw new NotFoundError("global_variable_not_found", `global variable ${name} does not exist`);
    return view(variable);
  }

  async put(
    actor: Actor,
    name: string,
    input: unknown,
  ): Promise<{ created: boolean; variable: GlobalVariableView }> {
    if (!GLOBAL_NAME.test(name))
      throw new BadRequestError(
        "invalid_name",
        "a global variable name has letters, digits, _, . and -, and starts with a letter or _",
        { field: "name" },
      );
    const body = asBody(input);
    onlyFields(body, ["name", "value", "secret"]);
    if (body.name !== undefined && body.name !== name)
      throw new BadRequestError("invalid_field", "name differs from the one in the path", { field: "name" });
    if (body.value === undefined || body.value === null)
      throw new BadRequestError("invalid_field", "value is required", { field: "value" });
    if (typeof body.value !== "string")
      throw new BadRequestError("invalid_field", "value must be a string", { field: "value" });
    const value = body.value;
    if (value.length > MAX_VALUE)
      throw new BadRequestError("invalid_field", `value must be at most ${MAX_VALUE} characters`, {
        field: "value",
      });
    const secret = bool(body, "secret") ?? false;
    const created = await this.variables.put(name, value, secret);
    this.changes.publish({ kind: "global-variable", key: name });
    audit(this.log, actor, created ? "global-variable.create" : "global-variable.update", name, { secret });
    return { created, variable: this.get(name) };
  }

  async delete(actor: Actor, name: string): Promise<void> {
    if (!(await this.variables.delete(name)))
      throw new NotFoundError("global_variable_not_found", `global variable ${name} does not exist`);
    this.changes.publish({ kind: "global-variable", key: name });
    audit(this.log, actor, "global-variable.delete", name);
  }
}
