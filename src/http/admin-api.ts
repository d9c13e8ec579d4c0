import type { FastifyInstance } from "fastify";
import type { Conduit } from "../conduit.js";
import { ADMIN_PREFIX, adminOperations, useCasesOf } from "./admin-resources.js";
import { guardAdminRoutes } from "./auth.js";

/**
 * `/admin/api/*`: JSON, camelCase, for users in Administrators. Every route is derived from the table of
 * admin-resources.ts: a thin translation to a use-case of src/admin/ (shared with the CLI and the console),
 * which validates the body (400 naming the `field`) and audits the write with the actor the guard found.
 */
export async function adminApiRoutes(app: FastifyInstance, { conduit }: { conduit: Conduit }): Promise<void> {
  const actor = guardAdminRoutes(app, conduit);
  const uses = useCasesOf(conduit);
  for (const operation of adminOperations())
    app.route({
      method: operation.method,
      // OpenAPI `{name}` → Fastify `:name`, below this plugin's prefix.
      url: operation.path.slice(ADMIN_PREFIX.length).replace(/\{(\w+)\}/g, ":$1"),
      handler: async (request, reply) => {
        const params = request.params as Record<string, string>;
        const { status, body } = await operation.run(uses, {
          actor: actor(request),
          id: operation.param ? (params[operation.param.name] ?? "") : "",
          body: request.body,
          query: request.query as Record<string, unknown>,
        });
        return reply.code(status).send(status === 204 ? undefined : body);
      },
    });
}
