import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Conduit } from "../conduit.js";
import { sha256, safeEqual } from "../kernel/crypto.js";
import { ForbiddenError, UnauthorizedError } from "../kernel/errors.js";
import type { ResourceMetrics } from "../resource/external/metrics.js";
import { parseAuthorization } from "../security/authentication.js";
import { requireAdministrator } from "./auth.js";

/**
 * `GET /metrics`: Prometheus text exposition format (prom-client), from Conduit's own Registry. Open by
 * default, like most scrape targets (it holds counts and server names, never a token or a secret); with
 * CONDUIT_METRICS_AUTH it needs a user of Administrators (Basic) or the scrape token CONDUIT_METRICS_TOKEN
 * as a bearer token. Must be registered in the root context so its onSend hook counts every request.
 */
export function registerMetrics(app: FastifyInstance, metrics: ResourceMetrics, conduit: Conduit): void {
  const guard = metricsGuard(conduit);
  // Counted as the answer is sent, in a callback hook (no promise per request): one Map lookup and one
  // addition. An onResponse hook would cost each request two 'finish' listeners and two clock reads.
  app.addHook("onSend", (_request, reply, payload, done) => {
    metrics.countResponse(reply.statusCode);
    done(null, payload);
  });
  app.get("/metrics", async (request, reply) => {
    await guard?.(request);
    const text = await metrics.registry.metrics();
    return reply.header("cache-control", "no-store").type(metrics.registry.contentType).send(text);
  });
}

/** Undefined when /metrics is open; else a check that throws 401 or 403. */
function metricsGuard(conduit: Conduit): ((request: FastifyRequest) => Promise<void>) | undefined {
  const { auth, token } = conduit.config.metrics;
  if (!auth) return undefined;
  const expected = token === undefined ? undefined : sha256(token);
  return async (request) => {
    const presented = parseAuthorization(request.headers.authorization);
    if (presented?.scheme === "bearer") {
      if (expected !== undefined && safeEqual(sha256(presented.value), expected)) return;
      throw new UnauthorizedError("the metrics token is not valid", [
        'Bearer realm="Conduit metrics", error="invalid_token"',
        ...conduit.auth.challenges().filter((c) => c.startsWith("Basic")),
      ]);
    }
    try {
      await requireAdministrator(conduit, request);
    } catch (error) {
      if (error instanceof ForbiddenError)
        throw new ForbiddenError("/metrics is for administrators", "admin_required");
      throw error;
    }
  };
}
