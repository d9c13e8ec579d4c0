import { createServer, type IncomingMessage, type ServerOptions, type ServerResponse } from "node:http";
import Fastify, { type FastifyInstance } from "fastify";
import type { Conduit } from "../conduit.js";
import { holdForever } from "../kernel/tick-maps.js";
import { externalServersOf } from "../resource/external/module.js";
import { oauthOf } from "../oauth/module.js";
import { adminApiRoutes } from "./admin-api.js";
import { consoleRoutes } from "./console.js";
import { clientErrorHandler, sendError } from "./errors.js";
import { externalServerRoutes } from "./external-servers-api.js";
import { FastInvoke } from "./fast-invoke.js";
import { FastOAuth } from "./fast-oauth.js";
import { registerFormParser } from "./form.js";
import { invokeRoutes } from "./invoke.js";
import { oauthEndpointRoutes } from "./oauth-endpoints.js";
import { openApiRoutes, recordRoutes } from "./openapi.js";

/**
 * The one place that composes the HTTP surfaces. The subsystems (src/oauth, src/flow,
 * src/resource/external, src/admin) expose use-cases and know nothing of HTTP; each surface here
 * translates requests into calls on them.
 */
/** Builds the HTTP application around a Conduit; never listens (tests use `app.inject`). */
export async function buildApp(conduit: Conduit): Promise<FastifyInstance> {
  const log = conduit.log;
  const metrics = externalServersOf(conduit)?.metrics;
  if (!metrics) throw new TypeError("installExternalServers must run before buildApp");
  const countResponse = (status: number) => metrics.countResponse(status);
  const oauth = oauthOf(conduit);
  const fast = new FastInvoke(conduit, log, countResponse);
  const fastOAuth = new FastOAuth(oauth.server, conduit.config.bodyLimit, countResponse);
  const front: readonly FastPath[] = [fast, fastOAuth];
  const app = Fastify({
    // Fastify's own HTTP server (the settings below are the ones Fastify gives the server it makes),
    // with the hot paths of /invoke and of the token, introspection and revocation endpoints in front of its
    // routing (src/http/fast-invoke.ts, src/http/fast-oauth.ts).
    serverFactory: (routing, options) => {
      const settings = options as unknown as ServerSettings;
      const server = createServer(settings.http ?? {}, frontHandler(front, routing));
      server.keepAliveTimeout = settings.keepAliveTimeout;
      server.requestTimeout = settings.requestTimeout;
      server.setTimeout(settings.connectionTimeout);
      if (settings.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = settings.maxRequestsPerSocket;
      return server;
    },
    // No logger in Fastify: with one, every request gets timing and 'finish' listeners for request
    // logging we keep off. Our records go to conduit.log explicitly and carry their own context
    // (event, service, user); Fastify's own warnings are process warnings.
    logger: false,
    bodyLimit: conduit.config.bodyLimit,
    trustProxy: false,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    routerOptions: { maxParamLength: 1024 },
    // Errors of the router (a bad percent-encoding, a parameter over maxParamLength) get our JSON too.
    frameworkErrors: (error, request, reply) => sendError(log, request, reply, error),
    clientErrorHandler,
  });
  fronts.set(app, {
    fast,
    fastOAuth,
    handler: frontHandler(front, (request, response) => app.routing(request, response)),
  });
  app.addHook("preClose", async () => {
    for (const path of front) path.closing = true;
  });
  recordRoutes(app);
  registerFormParser(app);
  coalesceAnswers(app);
  app.setErrorHandler((error, request, reply) => sendError(log, request, reply, error));
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: "not_found", message: `no route for ${request.method} ${request.url.split("?")[0]}` }),
  );

  app.get("/health", async () => ({ status: "ok" }));
  await app.register(invokeRoutes, { conduit });
  await app.register(adminApiRoutes, { conduit, prefix: "/admin/api" });
  await app.register(oauthEndpointRoutes, { server: oauth.server, conduit });
  await app.register(externalServerRoutes, { conduit });
  await app.register(openApiRoutes, { conduit });
  await app.register(consoleRoutes, { conduit });
  return app;
}

/**
 * Every answer of Fastify's routes is written once the event loop's I/O phase is over (setImmediate),
 * not from inside it, so the answers to the requests read in one turn of the loop leave in one burst.
 * Written from inside it, each answer to a POST (whose body arrives after its headers, so the route
 * finishes a few callbacks later) went out between two reads of other connections: under load every
 * answer then woke its client on its own, and the wake-ups cost this process more than the route.
 * strace of Conduit under the introspection benchmark (50 connections): read and writev strictly
 * alternate without this; with it, about 50 reads and then about 50 writevs.
 * Measured with `npm run bench` (SQLite, 2 rounds of 8 s, same run): introspection 11–13k → 20–22k req/s
 * (ratio to node-oidc-provider 2.5 → 4.7), p99 8 → 5 ms; it adds no measurable delay to a lone request
 * (the check phase follows the poll phase of the same turn). GET /invoke's fast path answers at once
 * (src/http/fast-invoke.ts): deferring it measured no gain.
 */
function coalesceAnswers(app: FastifyInstance): void {
  app.addHook("onSend", (_request, _reply, payload, done) => void setImmediate(done, null, payload));
}

/** Fastify's options with its defaults applied, as its serverFactory receives them. */
interface ServerSettings {
  http?: ServerOptions;
  keepAliveTimeout: number;
  requestTimeout: number;
  connectionTimeout: number;
  maxRequestsPerSocket: number;
}

type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** A hot path in front of Fastify: answers a request itself (true), or leaves it to Fastify (false). */
interface FastPath {
  closing: boolean;
  handle(request: IncomingMessage, response: ServerResponse): boolean;
}

const fronts = new WeakMap<
  FastifyInstance,
  { fast: FastInvoke; fastOAuth: FastOAuth; handler: RequestHandler }
>();

function frontHandler(front: readonly FastPath[], routing: RequestHandler): RequestHandler {
  let held = false;
  return (request, response) => {
    if (!held) {
      held = true;
      // Their hidden classes stay alive with them (src/kernel/tick-maps.ts).
      holdForever(request, response);
    }
    for (let i = 0; i < front.length; i++) if (front[i]!.handle(request, response)) return;
    routing(request, response);
  };
}

/** What a listener of this application hands its requests to: the fast paths, then Fastify. */
export function requestHandlerOf(app: FastifyInstance): RequestHandler {
  const front = fronts.get(app);
  if (!front) throw new TypeError("not an application of buildApp");
  return front.handler;
}

/** The /invoke fast path of an application (tests read how many requests it has taken). */
export function fastInvokeOf(app: FastifyInstance): FastInvoke | undefined {
  return fronts.get(app)?.fast;
}

/** The OAuth endpoints' fast path of an application (tests read how many requests it has taken). */
export function fastOAuthOf(app: FastifyInstance): FastOAuth | undefined {
  return fronts.get(app)?.fastOAuth;
}
