import type { Conduit } from "../conduit.js";
import { GlobalVariablesAdmin } from "../admin/global-variables.js";
import { PackagesAdmin } from "../admin/packages-admin.js";
import { clientServices, createHttpAgent } from "../services/builtins/client.js";
import { flowEngineServices } from "./builtins.js";
import { DEFAULT_MAX_STEPS, FlowEngine } from "./engine.js";
import { GlobalVariables } from "./global-variables.js";
import { PackageManager } from "./packages.js";
import { builtinSteps } from "./steps/index.js";

/** What the flow subsystem adds to a Conduit, for its HTTP surface. */
export interface FlowModule {
  engine: FlowEngine;
  packages: PackageManager;
  variables: GlobalVariables;
  admin: { packages: PackagesAdmin; globals: GlobalVariablesAdmin };
}

const modules = new WeakMap<Conduit, FlowModule>();

export function flowModule(conduit: Conduit): FlowModule {
  const module = modules.get(conduit);
  if (!module) throw new Error("installFlows has not run for this Conduit");
  return module;
}

/**
 * Packages, flow services, global variables and pub.client:http (issue 5): registers pub.client:http and
 * pub.flow:getLastFailureCaught, loads the global variables, loads every package and watches the folder.
 */
export async function installFlows(conduit: Conduit): Promise<void> {
  const agent = createHttpAgent();
  conduit.onClose(() => agent.close());
  for (const service of [...clientServices(agent), ...flowEngineServices]) conduit.registry.register(service);

  const variables = new GlobalVariables(
    conduit.storage.db,
    conduit.secretBox,
    conduit.secretValues,
    conduit.clock,
    conduit.log,
  );
  await variables.reload();
  // While the database is away the change feed drops every cache every 250 ms: say so once, then once
  // more when a reload works again, rather than an error record per attempt.
  let failing = false;
  conduit.changes.subscribe((change) => {
    if (change.kind === "global-variable")
      variables.reload().then(
        () => {
          if (!failing) return;
          failing = false;
          conduit.log.info({ event: "global_variables_reloaded" }, "global variables reloaded again");
        },
        (err: unknown) => {
          if (failing) return;
          failing = true;
          conduit.log.warn(
            { event: "global_variables_reload_failed", err },
            "cannot reload global variables (the last ones loaded stay in use)",
          );
        },
      );
  });

  const engine = new FlowEngine(builtinSteps(), {
    maxSteps: DEFAULT_MAX_STEPS,
    globals: variables.lookup,
    secrets: () => conduit.secretValues,
  });
  const packages = new PackageManager({
    dir: conduit.config.packagesDir,
    registry: conduit.registry,
    engine,
    acls: conduit.repos.acls,
    access: conduit.access,
    changes: conduit.changes,
    log: conduit.log,
    now: () => conduit.clock.now(),
  });
  await packages.loadAll();
  packages.watch();
  conduit.onClose(() => packages.close());

  modules.set(conduit, {
    engine,
    packages,
    variables,
    admin: {
      packages: new PackagesAdmin(packages, engine, conduit.registry, conduit.log),
      globals: new GlobalVariablesAdmin(variables, conduit.changes, conduit.log),
    },
  });
}
