import type { FastifyInstance } from "fastify";
import type { Conduit } from "../conduit.js";
import { tailLog } from "../admin/log-reader.js";
import { BadRequestError } from "../kernel/errors.js";
import { logFile } from "../kernel/logger.js";
import { guardAdminRoutes } from "./auth.js";

type Named = { Params: { name: string } };

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/**
 * `/admin/api/*`: JSON, camelCase, for users in Administrators (HTTP Basic; a browser console is not built yet).
 * Each route is a thin translation to a use-case of src/admin/, shared with the CLI (and the console to come).
 */
export async function adminApiRoutes(app: FastifyInstance, { conduit }: { conduit: Conduit }): Promise<void> {
  const actor = guardAdminRoutes(app, conduit);
  const { security, services } = conduit.admin;

  app.get("/users", async () => security.listUsers());
  app.post("/users", async (request, reply) =>
    reply.code(201).send(await security.createUser(actor(request), request.body)),
  );
  app.get<Named>("/users/:name", async (request) => security.getUser(request.params.name));
  app.put<Named>("/users/:name", async (request) =>
    security.updateUser(actor(request), request.params.name, request.body),
  );
  app.delete<Named>("/users/:name", async (request, reply) => {
    await security.deleteUser(actor(request), request.params.name);
    return reply.code(204).send();
  });

  app.get("/groups", async () => security.listGroups());
  app.post("/groups", async (request, reply) =>
    reply.code(201).send(await security.createGroup(actor(request), request.body)),
  );
  app.get<Named>("/groups/:name", async (request) => security.getGroup(request.params.name));
  app.put<Named>("/groups/:name", async (request) =>
    security.updateGroup(actor(request), request.params.name, request.body),
  );
  app.delete<Named>("/groups/:name", async (request, reply) => {
    await security.deleteGroup(actor(request), request.params.name);
    return reply.code(204).send();
  });

  app.get("/acls", async () => security.listAcls());
  app.post("/acls", async (request, reply) =>
    reply.code(201).send(await security.createAcl(actor(request), request.body)),
  );
  app.get<Named>("/acls/:name", async (request) => security.getAcl(request.params.name));
  app.put<Named>("/acls/:name", async (request) =>
    security.updateAcl(actor(request), request.params.name, request.body),
  );
  app.delete<Named>("/acls/:name", async (request, reply) => {
    await security.deleteAcl(actor(request), request.params.name);
    return reply.code(204).send();
  });

  app.get("/services", async () => services.list());
  app.get<Named>("/services/:name", async (request) => services.get(request.params.name));
  app.put<Named>("/services/:name/acl", async (request) =>
    services.setAcl(actor(request), request.params.name, request.body),
  );

  app.get<{ Querystring: { lines?: string; level?: string; event?: string } }>("/log", async (request) => {
    const { lines = "200", level, event } = request.query;
    const count = Number(lines);
    if (!Number.isInteger(count) || count < 1 || count > 5000)
      throw new BadRequestError("invalid_query", "lines must be an integer from 1 to 5000", {
        field: "lines",
      });
    if (level !== undefined && (typeof level !== "string" || !Object.hasOwn(LEVELS, level)))
      throw new BadRequestError("invalid_query", `level must be one of ${Object.keys(LEVELS).join(", ")}`, {
        field: "level",
      });
    if (event !== undefined && typeof event !== "string")
      throw new BadRequestError("invalid_query", "event must be given once", { field: "event" });
    const filter = { ...(level ? { level: LEVELS[level]! } : {}), ...(event ? { event } : {}) };
    return { entries: await tailLog(logFile(conduit.config.dataDir), count, filter) };
  });
}
