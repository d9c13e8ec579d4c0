import type { FastifyInstance } from "fastify";
import type { Conduit } from "../conduit.js";
import type { OAuthAdmin } from "../oauth/module.js";
import { guardAdminRoutes } from "./auth.js";

type Named = { Params: { name: string } };

/**
 * `/admin/api/oauth/*`: settings, scopes, clients, tokens and initial access tokens, for users in
 * Administrators. Each route is a thin translation to a use-case of src/admin/oauth-*.ts.
 */
export async function oauthAdminRoutes(
  app: FastifyInstance,
  { conduit, admin }: { conduit: Conduit; admin: OAuthAdmin },
): Promise<void> {
  const actor = guardAdminRoutes(app, conduit);
  const noContent = { code: 204 } as const;

  app.get("/settings", async () => admin.settings.get());
  app.put("/settings", async (request) => admin.settings.update(actor(request), request.body));

  app.get("/scopes", async () => admin.scopes.list());
  app.post("/scopes", async (request, reply) =>
    reply.code(201).send(await admin.scopes.create(actor(request), request.body)),
  );
  app.get<Named>("/scopes/:name", async (request) => admin.scopes.get(request.params.name));
  app.put<Named>("/scopes/:name", async (request) =>
    admin.scopes.update(actor(request), request.params.name, request.body),
  );
  app.delete<Named>("/scopes/:name", async (request, reply) => {
    await admin.scopes.delete(actor(request), request.params.name);
    return reply.code(noContent.code).send();
  });

  app.get("/clients", async () => admin.clients.list());
  app.post("/clients", async (request, reply) =>
    reply.code(201).send(await admin.clients.create(actor(request), request.body)),
  );
  app.get<Named>("/clients/:name", async (request) => admin.clients.get(request.params.name));
  app.put<Named>("/clients/:name", async (request) =>
    admin.clients.update(actor(request), request.params.name, request.body),
  );
  app.delete<Named>("/clients/:name", async (request, reply) => {
    await admin.clients.delete(actor(request), request.params.name);
    return reply.code(noContent.code).send();
  });
  app.post<Named>("/clients/:name/secret", async (request) =>
    admin.clients.newSecret(actor(request), request.params.name, request.body),
  );

  app.get("/tokens", async (request) => admin.tokens.list(request.query as Record<string, unknown>));
  app.delete<Named>("/tokens/:name", async (request, reply) => {
    await admin.tokens.revoke(actor(request), request.params.name);
    return reply.code(noContent.code).send();
  });

  app.get("/initial-access-tokens", async () => admin.initialAccessTokens.list());
  app.post("/initial-access-tokens", async (request, reply) =>
    reply.code(201).send(await admin.initialAccessTokens.create(actor(request), request.body)),
  );
  app.delete<Named>("/initial-access-tokens/:name", async (request, reply) => {
    await admin.initialAccessTokens.delete(actor(request), request.params.name);
    return reply.code(noContent.code).send();
  });
}
