import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { audit, type Actor } from "../admin/audit.js";
import type { Conduit } from "../conduit.js";
import { BadRequestError, ForbiddenError, UnauthorizedError } from "../kernel/errors.js";
import { oauthOf } from "../oauth/module.js";
import type { OAuthRequest } from "../oauth/request.js";
import { isLoopbackAddress, isSecure } from "../oauth/transport.js";
import { isAdministrator } from "../security/principal.js";
import {
  csrfFailed,
  isCrossSite,
  noSession,
  SESSION_CHALLENGE,
  SESSION_COOKIE,
  sessionIdOf,
  type LiveSession,
} from "../security/sessions.js";
import { authRequestOf } from "./auth.js";
import { statisticsRoutes } from "./statistics.js";

/** Where `npm run build` puts the console (from src/http and from dist/http alike). */
export const CONSOLE_ROOT = fileURLToPath(new URL("../../dist/console", import.meta.url));

/** On every console page: nothing but our own files, never framed, no referrer. */
export const CONSOLE_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const MAX_FIELD = 1024;

/** What GET and POST /admin/api/session answer. */
export interface SessionBody {
  username: string;
  groups: string[];
  csrfToken: string;
  idleTimeoutSeconds: number;
  expiresAt: string;
}

/**
 * The admin console (issue 8): its session endpoints (`/admin/api/session`), its statistics
 * (`/admin/api/statistics`) and its pages, `dist/console` served at `/admin/` (`/` redirects there).
 * The rules of the session live in src/security/sessions.ts; this file only translates HTTP.
 */
export async function consoleRoutes(
  app: FastifyInstance,
  { conduit, root = CONSOLE_ROOT }: { conduit: Conduit; root?: string },
): Promise<void> {
  await app.register(sessionRoutes, { conduit });
  await app.register(statisticsRoutes, { conduit, prefix: "/admin/api" });
  await app.register(pageRoutes, { root, log: conduit.log });
}

// ---- the session

async function sessionRoutes(app: FastifyInstance, { conduit }: { conduit: Conduit }): Promise<void> {
  const sessions = conduit.sessions;
  const ownOrigins = [new URL(conduit.config.publicUrl).origin];
  const idleTimeoutSeconds = Math.floor(sessions.idleMs / 1000);

  const body = (id: string, session: LiveSession): SessionBody => ({
    username: session.username,
    groups: [...session.principal.groups].sort(),
    csrfToken: sessions.csrfToken(id),
    idleTimeoutSeconds,
    expiresAt: new Date(session.expiresAt).toISOString(),
  });
  const secure = (request: FastifyRequest) => request.protocol === "https";
  const refuseCrossSite = (request: FastifyRequest, what: string) => {
    if (isCrossSite(authRequestOf(request), ownOrigins))
      throw csrfFailed(`${what} from another site is refused`);
  };
  const actorOf = (session: LiveSession): Actor => ({ principal: session.principal, via: "console" });

  app.addHook("onSend", async (_request, reply) => {
    reply.header("cache-control", "no-store");
  });

  app.post("/admin/api/session", async (request, reply) => {
    refuseCrossSite(request, "signing in");
    const settings = await oauthOf(conduit).server.settings.get();
    if (settings.requireHttps && !isSecure(transportOf(request), settings))
      throw new ForbiddenError("sign in over HTTPS: the requireHttps setting is on", "https_required");
    const { username, password } = credentialsOf(request.body);
    const failed = (reason: string) =>
      audit(conduit.log, { principal: null, via: "console" }, "console.sign-in-failed", username, {
        reason,
        ip: request.ip,
      });
    // The one password check of Conduit, with its throttle: failures delay, parallel guesses queue.
    const principal = await conduit.basic.verify(username, password, request.ip);
    if (!principal) {
      failed("invalid_credentials");
      throw new UnauthorizedError("wrong username or password", SESSION_CHALLENGE, "invalid_credentials");
    }
    if (!isAdministrator(principal)) {
      failed("admin_required");
      throw new ForbiddenError("only users in Administrators can sign in to the console", "admin_required");
    }
    const user = await conduit.directory.get(principal.username);
    if (!user) {
      failed("invalid_credentials");
      throw new UnauthorizedError("wrong username or password", SESSION_CHALLENGE, "invalid_credentials");
    }
    // A new id at every sign-in (no fixation): the session this browser had before ends.
    const previous = sessionIdOf(request.headers.cookie);
    if (previous) await sessions.end(previous);
    const { id, session } = await sessions.create(user);
    audit(conduit.log, actorOf(session), "console.sign-in", session.username, { ip: request.ip });
    return reply.header("set-cookie", cookie(id, secure(request))).send(body(id, session));
  });

  app.get("/admin/api/session", async (request, reply) => {
    const id = sessionIdOf(request.headers.cookie);
    if (!id) throw noSession();
    refuseCrossSite(request, "the console session");
    // No X-CSRF-Token needed here: a page that was reloaded learns its token from this answer, which
    // another site can neither send with the cookie (SameSite=Strict, Origin) nor read (no CORS).
    const session = await sessions.verify(id);
    if (!session) {
      reply.header("set-cookie", clearedCookie(secure(request)));
      throw noSession("the console session has ended; sign in again");
    }
    return body(id, session);
  });

  app.delete("/admin/api/session", async (request, reply) => {
    const id = sessionIdOf(request.headers.cookie);
    if (!id) throw noSession();
    refuseCrossSite(request, "signing out");
    const token = request.headers["x-csrf-token"];
    if (!sessions.csrfMatches(id, typeof token === "string" ? token : undefined))
      throw csrfFailed("signing out needs the session's X-CSRF-Token header");
    const session = await sessions.verify(id);
    await sessions.end(id);
    if (session)
      audit(conduit.log, actorOf(session), "console.sign-out", session.username, { ip: request.ip });
    return reply
      .code(204)
      .header("set-cookie", clearedCookie(secure(request)))
      .send();
  });
}

function credentialsOf(raw: unknown): { username: string; password: string } {
  const input = raw === undefined || raw === null ? {} : raw;
  if (typeof input !== "object" || Array.isArray(input))
    throw new BadRequestError("invalid_body", "the request body must be a JSON object {username, password}");
  const fields = input as Record<string, unknown>;
  const field = (name: string): string => {
    const value = fields[name];
    if (value === undefined || value === null || value === "")
      throw new BadRequestError("invalid_field", `${name} is required`, { field: name });
    if (typeof value !== "string")
      throw new BadRequestError("invalid_field", `${name} must be a string`, { field: name });
    if (value.length > MAX_FIELD)
      throw new BadRequestError("invalid_field", `${name} must be at most ${MAX_FIELD} characters`, {
        field: name,
      });
    if (value.includes("\u0000"))
      throw new BadRequestError("invalid_field", `${name} must not contain NUL characters`, { field: name });
    return value;
  };
  return { username: field("username"), password: field("password") };
}

function cookie(id: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/${secure ? "; Secure" : ""}`;
}

function clearedCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure ? "; Secure" : ""}`;
}

/** The request as the OAuth transport rule (isSecure) sees it: the same rule as the OAuth endpoints. */
function transportOf(request: FastifyRequest): OAuthRequest {
  const forwarded = request.headers["x-forwarded-proto"];
  return {
    method: request.method,
    path: request.url.split("?")[0] ?? "",
    query: {},
    body: {},
    jsonBody: undefined,
    bodyType: "none",
    mergeQuery: false,
    authorization: undefined,
    cookie: undefined,
    accept: undefined,
    ip: request.ip,
    tls: request.protocol === "https",
    forwardedProto: Array.isArray(forwarded) ? forwarded.join(", ") : forwarded,
    loopback: isLoopbackAddress(request.socket.remoteAddress ?? ""),
  };
}

// ---- the pages

async function pageRoutes(
  app: FastifyInstance,
  { root, log }: { root: string; log: Conduit["log"] },
): Promise<void> {
  // fastify-static's own sendFile: ranges, ETag and Last-Modified, and paths that cannot leave root.
  const index = `${root}/index.html`;
  app.addHook("onSend", async (_request, reply) => {
    reply.headers(CONSOLE_HEADERS);
  });
  await app.register(fastifyStatic, {
    root: `${root}/assets`,
    prefix: "/admin/assets/",
    // Hashed names: a file never changes under its name.
    maxAge: 365 * 24 * 3_600_000,
    immutable: true,
    index: false,
    dotfiles: "deny",
    wildcard: true,
    // A missing build is told once below, and on /admin/ (503).
    suppressWarning: true,
  });
  if (!existsSync(index))
    log.warn(
      { event: "console_not_built", root },
      "the admin console is not built (run `npm run build`): /admin/ answers 503",
    );

  const page = async (_request: FastifyRequest, reply: FastifyReply) => {
    if (!existsSync(index))
      return reply.code(503).header("retry-after", "60").type("application/json; charset=utf-8").send({
        error: "console_not_built",
        message: "the admin console has not been built: run `npm run build` and restart Conduit",
      });
    // The client routes by path: every console path is the one page. Always revalidated.
    return reply.header("cache-control", "no-cache").sendFile("index.html", root, { cacheControl: false });
  };
  app.get("/", async (_request, reply) => reply.redirect("/admin/", 302));
  app.get("/admin", async (_request, reply) => reply.redirect("/admin/", 302));
  app.get("/admin/", page);
  app.get("/admin/*", async (request, reply) => {
    // An unknown admin API route stays the JSON 404 of the API, never the page.
    const path = request.url.split("?")[0]!;
    if (path.startsWith("/admin/api/") || path === "/admin/api") return reply.callNotFound();
    return page(request, reply);
  });
}
