import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Actor } from "../admin/audit.js";
import type { Conduit } from "../conduit.js";
import { BadRequestError, ForbiddenError } from "../kernel/errors.js";
import { containsNul } from "../oauth/text.js";
import { isAdministrator, type Principal } from "../security/principal.js";

/** The principal of a request, through the one authentication chain (from memory when it can). */
export function authenticate(
  conduit: Conduit,
  request: FastifyRequest,
): Principal | null | Promise<Principal | null> {
  const credentials = {
    authorization: request.headers.authorization,
    ip: request.ip,
    connection: request.raw.socket,
  };
  return conduit.auth.cached(credentials) ?? conduit.auth.authenticate(credentials);
}

/** The admin API: a user in Administrators, else 401 (no credentials) or 403. */
export async function requireAdministrator(conduit: Conduit, request: FastifyRequest): Promise<Principal> {
  const principal = await authenticate(conduit, request);
  if (!principal) throw conduit.auth.missingCredentials();
  // OAuth scopes name folders and services, not administration: a bearer token never opens the admin API.
  if (principal.method === "bearer")
    throw new ForbiddenError(
      "the admin API does not accept bearer tokens; use Basic credentials",
      "admin_required",
    );
  if (!isAdministrator(principal)) throw new ForbiddenError("administrators only", "admin_required");
  return principal;
}

/**
 * Guards an admin plugin: every route needs a user in Administrators, and no value holds U+0000
 * (PostgreSQL refuses it in text: a 400, never a 500). Answers the audited actor of a request.
 */
export function guardAdminRoutes(app: FastifyInstance, conduit: Conduit): (request: FastifyRequest) => Actor {
  const actors = new WeakMap<FastifyRequest, Actor>();
  app.addHook("preHandler", async (request) => {
    actors.set(request, { principal: await requireAdministrator(conduit, request), via: "api" });
    if (containsNul([request.params, request.query, request.body]))
      throw new BadRequestError("invalid_field", "values must not contain NUL characters");
  });
  return (request) => {
    const actor = actors.get(request);
    if (!actor) throw new TypeError("admin route without its guard");
    return actor;
  };
}
