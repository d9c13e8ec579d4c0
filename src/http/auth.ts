import type { FastifyRequest } from "fastify";
import type { Conduit } from "../conduit.js";
import { ForbiddenError } from "../kernel/errors.js";
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

/** The admin API and console: a user in Administrators, else 401 (no credentials) or 403. */
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
