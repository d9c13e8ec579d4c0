import type { FastifyInstance } from "fastify";
import { ExternalServersAdmin } from "../../admin/external-servers.js";
import type { Conduit } from "../../conduit.js";
import { guardAdminRoutes } from "../../http/auth.js";
import { registerMetrics } from "../../http/metrics.js";
import { ResourceMetrics } from "./metrics.js";
import { KyselyExternalServerRepository } from "./repository.js";
import { ServerRuntimes } from "./runtimes.js";
import { AuthorizationServerSetting, SETTINGS_KEY } from "./selection.js";
import { createSelector } from "./selector.js";

/** What this subsystem keeps per Conduit (the Conduit interface stays untouched). */
interface ExternalServersState {
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

type Named = { Params: { name: string } };

/**
 * GET /metrics (and the root onResponse hook that counts every request) and the admin API
 * `/admin/api/oauth/external-servers`. Not encapsulated (skip-override) so the hook sees every route;
 * the admin routes live in an encapsulated child of their own.
 */
export async function externalServerRoutes(
  app: FastifyInstance,
  { conduit }: { conduit: Conduit },
): Promise<void> {
  const state = states.get(conduit);
  if (!state) throw new TypeError("installExternalServers must run before externalServerRoutes");
  registerMetrics(app, state.metrics);
  await app.register(async (admin) => adminRoutes(admin, conduit, state.admin), {
    prefix: "/admin/api/oauth/external-servers",
  });
}
// Fastify: a plugin with this symbol shares its parent's context (what fastify-plugin does).
(externalServerRoutes as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;

async function adminRoutes(
  app: FastifyInstance,
  conduit: Conduit,
  servers: ExternalServersAdmin,
): Promise<void> {
  const actor = guardAdminRoutes(app, conduit);

  app.get("/", async () => servers.list());
  app.post("/", async (request, reply) =>
    reply.code(201).send(await servers.create(actor(request), request.body)),
  );
  app.get<Named>("/:name", async (request) => servers.get(request.params.name));
  app.put<Named>("/:name", async (request) =>
    servers.update(actor(request), request.params.name, request.body),
  );
  app.delete<Named>("/:name", async (request, reply) => {
    await servers.delete(actor(request), request.params.name);
    return reply.code(204).send();
  });
}
