import type { FastifyInstance } from "fastify";
import type { Conduit } from "../conduit.js";

/**
 * The OAuth 2.0 authorization server (issue 3): fills conduit.resource.scopes and conduit.resource.local,
 * registers its services, background sweeps and close hooks.
 */
export async function installOAuth(_conduit: Conduit): Promise<void> {
  // to be built
}

/** The HTTP surface of the authorization server: /oauth2/*, /.well-known/*, /invoke/pub.oauth/*, admin API. */
export async function oauthRoutes(_app: FastifyInstance, _options: { conduit: Conduit }): Promise<void> {
  // to be built
}
