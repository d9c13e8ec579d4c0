import Fastify, { type FastifyInstance } from "fastify";
import type { Conduit } from "../conduit.js";
import { oauthOf } from "../oauth/module.js";
import { adminApiRoutes } from "./admin-api.js";
import { consoleRoutes } from "./console.js";
import { clientErrorHandler, sendError } from "./errors.js";
import { externalServerRoutes } from "./external-servers-api.js";
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
  const app = Fastify({
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
  recordRoutes(app);
  registerFormParser(app);
  app.setErrorHandler((error, request, reply) => sendError(log, request, reply, error));
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: "not_found", message: `no route for ${request.method} ${request.url.split("?")[0]}` }),
  );

  app.get("/health", async () => ({ status: "ok" }));
  await app.register(invokeRoutes, { conduit });
  await app.register(adminApiRoutes, { conduit, prefix: "/admin/api" });
  const oauth = oauthOf(conduit);
  await app.register(oauthEndpointRoutes, { server: oauth.server, conduit });
  await app.register(externalServerRoutes, { conduit });
  await app.register(openApiRoutes, { conduit });
  await app.register(consoleRoutes, { conduit });
  return app;
}
