import { BadRequestError, ConduitError, ConflictError, NotFoundError } from "../kernel/errors.js";
import type { Logger } from "../kernel/logger.js";
import type { FlowEngine } from "../flow/engine.js";
import { PACKAGE_NAME } from "../flow/manifest.js";
import type { FlowEntry, PackageManager, PackageState } from "../flow/packages.js";
import { parseFlowText, validateFlow } from "../flow/parser.js";
import type { FlowDefinition } from "../flow/types.js";
import type { ServiceRegistry } from "../services/registry.js";
import { isServiceName } from "../services/types.js";
import { audit, type Actor } from "./audit.js";
import { asBody, onlyFields, str } from "./input.js";

/** A package as the admin API shows it: its state, with the load time as an ISO date. */
export type PackageView = Omit<PackageState, "loadedAt" | "attemptedAt"> & { loadedAt: string | null };

export interface FlowView {
  name: string;
  package: string;
  file: string;
  definition?: FlowDefinition;
  /** Services the flow invokes that do not exist (yet): not an error, packages may load in any order. */
  warnings?: string[];
}

function packageView(state: PackageState): PackageView {
  return {
    name: state.name,
    version: state.version,
    description: state.description,
    requires: state.requires,
    loaded: state.loaded,
    services: state.services,
    flows: state.flows,
    errors: state.errors,
    loadedAt: state.loadedAt === null ? null : new Date(state.loadedAt).toISOString(),
  };
}

/** A reload that found problems: the last good version (if any) keeps serving. */
export class PackageInvalidError extends ConduitError {
  constructor(state: PackageState) {
    super(
      422,
      "package_invalid",
      `package ${state.name} has problems${state.loaded ? "; its last good version keeps serving" : " and is not loaded"}`,
      { details: { package: packageView(state) } },
    );
  }
}

/** Packages and flow services: the use-cases behind /admin/api/packages and /admin/api/flows. */
export class PackagesAdmin {
  constructor(
    private readonly packages: PackageManager,
    private readonly engine: FlowEngine,
    private readonly registry: ServiceRegistry,
    private readonly log: Logger,
  ) {}

  list(): PackageView[] {
    return this.packages.list().map(packageView);
  }

  get(name: string): PackageView {
    return packageView(this.requirePackage(name));
  }

  async reload(actor: Actor, name: string): Promise<PackageView> {
    if (!PACKAGE_NAME.test(name))
      throw new NotFoundError("package_not_found", `package ${name} does not exist`);
    const state = await this.packages.reload(name);
    if (!state) throw new NotFoundError("package_not_found", `package ${name} does not exist`);
    audit(this.log, actor, "package.reload", name, { loaded: state.loaded, errors: state.errors.length });
    if (state.errors.length > 0) throw new PackageInvalidError(state);
    return packageView(state);
  }

  listFlows(): FlowView[] {
    return this.packages.listFlows().map((f) => ({ name: f.name, package: f.package, file: f.file }));
  }

  getFlow(name: string): FlowView {
    return this.flowView(this.requireFlow(name));
  }

  /**
   * Creates or replaces a flow service: `{package, definition}` where definition is the flow as an object
   * or as YAML/JSON text. Checked completely before anything is written; then written into the package
   * (flows/<folder>/<service>.flow.yaml, or the flow's existing file) and the package reloaded.
   */
  async putFlow(actor: Actor, name: string, input: unknown): Promise<{ created: boolean; flow: FlowView }> {
    if (!isServiceName(name))
      throw new BadRequestError("invalid_name", `"${name}" is not a service name (folder.sub:service)`);
    const body = asBody(input);
    onlyFields(body, ["package", "definition"]);
    const existing = this.packages.flow(name);
    const packageName = str(body, "package", { max: 100 }) ?? existing?.package;
    if (!packageName)
      throw new BadRequestError("invalid_field", "package is required for a new flow", { field: "package" });
    if (existing && existing.package !== packageName)
      throw new ConflictError("flow_exists", `flow ${name} belongs to package ${existing.package}`);
    if (!this.packages.get(packageName))
      throw new BadRequestError("unknown_package", `package ${packageName} does not exist`, {
        field: "package",
      });
    const owner = this.registry.ownerOf(name);
    if (owner !== undefined && owner !== packageName)
      throw new ConflictError("service_exists", `service ${name} already belongs to ${owner}`);

    let raw = body.definition;
    if (raw === undefined || raw === null)
      throw new BadRequestError("invalid_field", "definition is required", { field: "definition" });
    if (typeof raw === "string") raw = parseFlowText(raw, "definition");
    if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
      const named = raw as { name?: unknown };
      if (named.name === undefined) raw = { name, ...raw };
      else if (named.name !== name)
        throw new BadRequestError(
          "invalid_field",
          `definition.name "${String(named.name)}" differs from ${name}`,
          {
            field: "definition",
          },
        );
    }
    const definition = validateFlow(raw, this.engine, "definition");
    const { created } = await this.packages.saveFlow(packageName, definition);
    audit(this.log, actor, created ? "flow.create" : "flow.replace", name, { package: packageName });
    return { created, flow: this.flowView(this.requireFlow(name)) };
  }

  async deleteFlow(actor: Actor, name: string): Promise<void> {
    const entry = this.requireFlow(name);
    await this.packages.deleteFlow(name);
    audit(this.log, actor, "flow.delete", name, { package: entry.package });
  }

  private flowView(entry: FlowEntry): FlowView {
    const missing = [...invoked(entry.definition.steps)].filter((s) => !this.registry.get(s)).sort();
    return {
      name: entry.name,
      package: entry.package,
      file: entry.file,
      definition: entry.definition,
      ...(missing.length > 0 ? { warnings: missing.map((s) => `invokes ${s}, which does not exist`) } : {}),
    };
  }

  private requirePackage(name: string): PackageState {
    const state = this.packages.get(name);
    if (!state) throw new NotFoundError("package_not_found", `package ${name} does not exist`);
    return state;
  }

  private requireFlow(name: string): FlowEntry {
    const entry = this.packages.flow(name);
    if (!entry) throw new NotFoundError("flow_not_found", `flow ${name} does not exist`);
    return entry;
  }
}

/** Every service a list of steps invokes, at any depth. */
function invoked(steps: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(steps)) for (const s of steps) invoked(s, out);
  else if (steps && typeof steps === "object") {
    const step = steps as Record<string, unknown>;
    if (step.type === "invoke" && typeof step.service === "string") out.add(step.service);
    for (const [key, value] of Object.entries(step))
      if (key === "steps" || key === "catch" || key === "finally" || key === "cases") invoked(value, out);
  }
  return out;
}
