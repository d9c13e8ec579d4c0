import type { FastifyInstance } from "fastify";
import type { Conduit } from "../../conduit.js";

/**
 * External authorization servers (issue 4): fills conduit.resource.select and
 * conduit.resource.externalServers, the introspection cache and metrics.
 */
export async function installExternalServers(_conduit: Conduit): Promise<void> {
  // to be built
}

/** Admin API for external servers and /metrics. */
export async function externalServerRoutes(
  _app: FastifyInstance,
  _options: { conduit: Conduit },
): Promise<void> {
  // to be built
}
