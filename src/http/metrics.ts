import type { FastifyInstance } from "fastify";
import type { ResourceMetrics } from "../resource/external/metrics.js";

/**
 * `GET /metrics`: Prometheus text exposition format (prom-client), from Conduit's own Registry. Open like
 * most scrape targets: it holds counts and server names, never a token or a secret.
 * Must be registered in the root context so its onResponse hook counts every request by status.
 */
export function registerMetrics(app: FastifyInstance, metrics: ResourceMetrics): void {
  // A callback hook (no promise per request): one Map lookup and one addition.
  app.addHook("onResponse", (_request, reply, done) => {
    metrics.countResponse(reply.statusCode);
    done();
  });
  app.get("/metrics", async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header("cache-control", "no-store").type(metrics.registry.contentType).send(text);
  });
}
