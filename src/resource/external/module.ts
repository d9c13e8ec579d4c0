import { ExternalServersAdmin } from "../../admin/external-servers.js";
import type { Conduit } from "../../conduit.js";
import { ResourceMetrics } from "./metrics.js";
import { KyselyExternalServerRepository } from "./repository.js";
import { ServerRuntimes } from "./runtimes.js";
import { AuthorizationServerSetting, SETTINGS_KEY } from "./selection.js";
import { createSelector } from "./selector.js";

/** What this subsystem keeps per Conduit (the Conduit interface stays untouched). */
export interface ExternalServersState {
  admin: ExternalServersAdmin;
  metrics: ResourceMetrics;
  runtimes: ServerRuntimes;
}

const states = new WeakMap<Conduit, ExternalServersState>();

/** The external-server use-cases of a Conduit (for the console and CLI), once installed. */
export function externalServersOf(conduit: Conduit): ExternalServersState | undefined {
  return states.get(conduit);
}

/**
 * External authorization servers (issue 4): fills conduit.resource.select (JWTs by issuer, else the
 * server of the global setting `authorizationServer`) and conduit.resource.externalServerExists, and
 * keeps per-server caches that the change feed clears.
 */
export async function installExternalServers(conduit: Conduit): Promise<void> {
  const { clock, log, changes } = conduit;
  const metrics = new ResourceMetrics();
  const repository = new KyselyExternalServerRepository(conduit.storage.db);
  const runtimes = new ServerRuntimes(repository, { secretBox: conduit.secretBox, clock, metrics, log });
  const setting = new AuthorizationServerSetting(conduit.repos.settings, clock);

  changes.subscribe((change) => {
    if (change.kind === "external-server") runtimes.invalidate(change.key);
    if (change.kind === "settings" && (change.key === undefined || change.key === SETTINGS_KEY))
      setting.invalidate();
  });

  const admin = new ExternalServersAdmin({
    repository,
    users: conduit.repos.users,
    secretBox: conduit.secretBox,
    changes,
    clock,
    log,
    // Read afresh: a delete must not trust a cached value whose change notification may have been lost.
    selected: async () => {
      setting.invalidate();
      return setting.current();
    },
  });

  conduit.resource.select = createSelector({ runtimes, setting, local: () => conduit.resource.local, log });
  conduit.resource.externalServerExists = (name) => admin.exists(name);
  conduit.onClose(() => runtimes.close());
  states.set(conduit, { admin, metrics, runtimes });
}
