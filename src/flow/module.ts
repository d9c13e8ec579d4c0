import type { FastifyInstance } from "fastify";
import type { Conduit } from "../conduit.js";

/** Packages, flow services, global variables and pub.client:http (issue 5). */
export async function installFlows(_conduit: Conduit): Promise<void> {
  // to be built
}

/** Admin API for packages, flows and global variables. */
export async function flowRoutes(_app: FastifyInstance, _options: { conduit: Conduit }): Promise<void> {
  // to be built
}
