import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
} from "fastify";
import type { Conduit } from "./conduit.js";
import { adminApiRoutes } from "./http/admin-api.js";
import { clientErrorHandler, sendError } from "./http/errors.js";
import { registerFormParser } from "./http/form.js";
import { invokeRoutes } from "./http/invoke.js";
import { flowRoutes } from "./flow/module.js";
import { oauthRoutes } from "./oauth/module.js";
import { externalServerRoutes } from "./resource/external/module.js";

/** The HTTP surfaces of the subsystems, each an encapsulated Fastify plugin given the Conduit. */
const surfaces: FastifyPluginAsync<{ conduit: Conduit }>[] = [oauthRoutes, externalServerRoutes, flowRoutes];

/** Builds the HTTP application around a Conduit; never listens (tests use `app.inject`). */
export async function buildApp(conduit: Conduit): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: conduit.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request: on the hot path it costs more than it tells. Our records carry
    // their own context (event, service, user).
    childLoggerFactory: (logger) => logger,
    bodyLimit: conduit.config.bodyLimit,
    trustProxy: false,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    routerOptions: { maxParamLength: 1024 },
    // Errors of the router (a bad percent-encoding, a parameter over maxParamLength) get our JSON too.
    frameworkErrors: (error, request, reply) => sendError(request, reply, error),
    clientErrorHandler,
  });
  registerFormParser(app);
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: "not_found", message: `no route for ${request.method} ${request.url.split("?")[0]}` }),
  );

  app.get("/health", async () => ({ status: "ok" }));
  await app.register(invokeRoutes, { conduit });
  await app.register(adminApiRoutes, { conduit, prefix: "/admin/api" });
  for (const surface of surfaces) await app.register(surface, { conduit });
  return app;
}
