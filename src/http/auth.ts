import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Actor } from "../admin/audit.js";
import type { Conduit } from "../conduit.js";
import { BadRequestError, ForbiddenError } from "../kernel/errors.js";
import { containsNul } from "../oauth/text.js";
import type { AuthRequest } from "../security/authentication.js";
import { isAdministrator, type Principal } from "../security/principal.js";
import { peerCertificate } from "./tls.js";

/** The principal of a request, through the one authentication chain (from memory when it can). */
export function authenticate(
  conduit: Conduit,
  request: FastifyRequest,
): Principal | null | Promise<Principal | null> {
  const credentials = authRequestOf(request);
  return conduit.auth.cached(credentials) ?? conduit.auth.authenticate(credentials);
}

/** What the authenticators may look at of a request (plain header reads: this runs on every request). */
export function authRequestOf(request: FastifyRequest): AuthRequest {
  const headers = request.headers;
  return {
    authorization: headers.authorization,
    ip: request.ip,
    connection: request.raw.socket,
    cookie: headers.cookie,
    csrfToken: single(headers["x-csrf-token"]),
    origin: headers.origin,
    fetchSite: single(headers["sec-fetch-site"]),
    host: headers.host,
    tls: request.protocol === "https",
    clientCertificate: peerCertificate(request.raw.socket),
  };
}

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The admin API: a user in Administrators, else 401 (no credentials) or 403. */
export async function requireAdministrator(conduit: Conduit, request: FastifyRequest): Promise<Principal> {
  const principal = await authenticate(conduit, request);
  if (!principal) throw conduit.auth.missingCredentials();
  // OAuth scopes name folders and services, not administration: a bearer token never opens the admin API.
  if (principal.method === "bearer")
    throw new ForbiddenError(
      "the admin API does not accept bearer tokens; use Basic credentials or the console",
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
    const principal = await requireAdministrator(conduit, request);
    // The console's requests authenticate with its session; scripts with Basic.
    actors.set(request, { principal, via: principal.method === "session" ? "console" : "api" });
    if (containsNul([request.params, request.query, request.body]))
      throw new BadRequestError("invalid_field", "values must not contain NUL characters");
  });
  return (request) => {
    const actor = actors.get(request);
    if (!actor) throw new TypeError("admin route without its guard");
    return actor;
  };
}
