import type { Conduit } from "../conduit.js";
import { OAuthClientsAdmin } from "../admin/oauth-clients.js";
import { OAuthKeysAdmin } from "../admin/oauth-keys.js";
import { InitialAccessTokensAdmin } from "../admin/oauth-initial-access-tokens.js";
import { OAuthScopesAdmin } from "../admin/oauth-scopes.js";
import { OAuthSettingsAdmin } from "../admin/oauth-settings.js";
import { OAuthTokensAdmin } from "../admin/oauth-tokens.js";
import { ConfigurationError, ForbiddenError } from "../kernel/errors.js";
import { isAdministrator } from "../security/principal.js";
import { defineService } from "../services/types.js";
import type { OAuthServer } from "./context.js";
import { TokenStore } from "./token-store.js";
import { createOAuthServer } from "./server.js";
import { revokeTokensOfDeletedUsers } from "./owners.js";
import { startSweep } from "./sweep.js";
import { LocalTokenVerifier } from "./verifier.js";

/** The administration use-cases of the authorization server (shared by the admin API, console and CLI). */
export interface OAuthAdmin {
  settings: OAuthSettingsAdmin;
  scopes: OAuthScopesAdmin;
  clients: OAuthClientsAdmin;
  tokens: OAuthTokensAdmin;
  initialAccessTokens: InitialAccessTokensAdmin;
  /** RFC 9068: the signing keys of JWT access tokens (list, rotate). */
  keys: OAuthKeysAdmin;
}

export interface OAuthModule {
  server: OAuthServer;
  admin: OAuthAdmin;
}

const installed = new WeakMap<Conduit, OAuthModule>();

/** The authorization server installed on a Conduit (for the HTTP surface, the console and the CLI). */
export function oauthOf(conduit: Conduit): OAuthModule {
  const module = installed.get(conduit);
  if (!module) throw new ConfigurationError("installOAuth has not run on this Conduit");
  return module;
}

/**
 * The OAuth 2.0 authorization server (issue 3): fills conduit.resource.scopes and conduit.resource.local,
 * registers pub.oauth:removeExpiredAccessTokens, starts the background sweep and stops it on close.
 */
export async function installOAuth(conduit: Conduit): Promise<void> {
  const server = createOAuthServer(conduit);
  const tokens = new OAuthTokensAdmin(server);
  const admin: OAuthAdmin = {
    settings: new OAuthSettingsAdmin(server, conduit.repos.settings, (name) =>
      conduit.resource.externalServerExists(name),
    ),
    scopes: new OAuthScopesAdmin(server),
    clients: new OAuthClientsAdmin(server),
    tokens,
    initialAccessTokens: new InitialAccessTokensAdmin(server),
    keys: new OAuthKeysAdmin(server),
  };
  installed.set(conduit, { server, admin });
  conduit.resource.scopes = server.scopes;
  const store = server.tokens instanceof TokenStore ? server.tokens : undefined;
  conduit.resource.local = new LocalTokenVerifier(
    server.tokens,
    server.clock,
    conduit.storage.dialect === "sqlite"
      ? (token) => token.expiresAt ?? Number.MAX_SAFE_INTEGER
      : (token) => store?.cachedUntil(token),
    { keys: server.signingKeys, issuer: server.issuer },
  );
  conduit.registry.register(
    defineService({
      name: "pub.oauth:removeExpiredAccessTokens",
      description: "Deletes expired OAuth tokens and reports how many (administrators only).",
      signature: {
        input: [],
        output: [
          { name: "removed", type: "integer", description: "expired tokens deleted" },
          { name: "codes", type: "integer" },
          { name: "initialAccessTokens", type: "integer" },
        ],
      },
      run: async (_input, ctx) => {
        if (!isAdministrator(ctx.principal))
          throw new ForbiddenError(
            "pub.oauth:removeExpiredAccessTokens is for administrators",
            "admin_required",
          );
        return { ...(await tokens.removeExpired({ principal: ctx.principal, via: "service" })) };
      },
    }),
    "oauth",
  );
  revokeTokensOfDeletedUsers(server);
  conduit.onClose(startSweep(server));
}
