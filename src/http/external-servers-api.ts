import type { FastifyInstance } from "fastify";
import type { ExternalServersAdmin } from "../admin/external-servers.js";
import type { Conduit } from "../conduit.js";
import { externalServersOf } from "../resource/external/module.js";
import { guardAdminRoutes } from "./auth.js";
import { registerMetrics } from "./metrics.js";

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
  const state = externalServersOf(conduit);
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
