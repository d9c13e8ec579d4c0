import type { FastifyInstance } from "fastify";
import type { Conduit } from "../conduit.js";
import { externalServersOf } from "../resource/external/module.js";
import { registerMetrics } from "./metrics.js";

/**
 * GET /metrics (and the root onResponse hook that counts every request). Not encapsulated (skip-override)
 * so the hook sees every route. The admin API `/admin/api/oauth/external-servers` is a resource of the
 * table in admin-resources.ts, registered with the rest of the admin API.
 */
export async function externalServerRoutes(
  app: FastifyInstance,
  { conduit }: { conduit: Conduit },
): Promise<void> {
  const state = externalServersOf(conduit);
  if (!state) throw new TypeError("installExternalServers must run before externalServerRoutes");
  registerMetrics(app, state.metrics, conduit);
}
// Fastify: a plugin with this symbol shares its parent's context (what fastify-plugin does).
(externalServerRoutes as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;
