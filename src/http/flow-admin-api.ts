import type { FastifyInstance } from "fastify";
import type { Conduit } from "../conduit.js";
import { flowModule } from "../flow/module.js";
import { flowSchema } from "../flow/parser.js";
import { guardAdminRoutes } from "./auth.js";

type Named = { Params: { name: string } };

/**
 * Admin API of the flow subsystem, for users in Administrators:
 * `/admin/api/packages` (GET; GET /{name}; POST /{name}/reload), `/admin/api/flows` (GET; GET /schema;
 * GET, PUT, DELETE /{folder.sub:service}), `/admin/api/global-variables` (GET; GET, PUT, DELETE /{name}).
 */
export async function flowAdminRoutes(
  app: FastifyInstance,
  { conduit }: { conduit: Conduit },
): Promise<void> {
  await app.register(
    async (api) => {
      const actor = guardAdminRoutes(api, conduit);
      const { packages, globals } = flowModule(conduit).admin;

      api.get("/packages", async () => packages.list());
      api.get<Named>("/packages/:name", async (request) => packages.get(request.params.name));
      api.post<Named>("/packages/:name/reload", async (request) =>
        packages.reload(actor(request), request.params.name),
      );

      api.get("/flows", async () => packages.listFlows());
      api.get("/flows/schema", async () => flowSchema);
      api.get<Named>("/flows/:name", async (request) => packages.getFlow(request.params.name));
      api.put<Named>("/flows/:name", async (request, reply) => {
        const { created, flow } = await packages.putFlow(actor(request), request.params.name, request.body);
        return reply.code(created ? 201 : 200).send(flow);
      });
      api.delete<Named>("/flows/:name", async (request, reply) => {
        await packages.deleteFlow(actor(request), request.params.name);
        return reply.code(204).send();
      });

      api.get("/global-variables", async () => globals.list());
      api.get<Named>("/global-variables/:name", async (request) => globals.get(request.params.name));
      api.put<Named>("/global-variables/:name", async (request, reply) => {
        const { created, variable } = await globals.put(actor(request), request.params.name, request.body);
        return reply.code(created ? 201 : 200).send(variable);
      });
      api.delete<Named>("/global-variables/:name", async (request, reply) => {
        await globals.delete(actor(request), request.params.name);
        return reply.code(204).send();
      });
    },
    { prefix: "/admin/api" },
  );
}
