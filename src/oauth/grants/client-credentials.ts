import { timeOrderedId } from "../ids.js";
import { unauthorizedClient } from "../errors.js";
import { param } from "../params.js";
import { grantableScopes, parseScope } from "../scope-request.js";
import { issueTokens, resourceIndicator } from "../token-factory.js";
import type { GrantHandler } from "./registry.js";

/**
 * RFC 6749 §4.4: client credentials. Confidential clients only (§4.4 "MUST only be used by confidential
 * clients"); scopes limited to the client's; the token runs as the client's runAsUser; no refresh token
 * (§4.4.3 "SHOULD NOT be included").
 */
export const clientCredentialsGrant: GrantHandler = async (context) => {
  const { server, client, method, params, settings } = context;
  if (method === "none" || client.type !== "confidential")
    throw unauthorizedClient("client_credentials needs a confidential client");
  if (client.runAsUser === undefined)
    throw unauthorizedClient("the client has no runAsUser for client_credentials tokens");
  const scopes = await grantableScopes(parseScope(param(params, "scope")), client, server.scopes);
  return issueTokens(server, {
    client,
    username: client.runAsUser,
    scopes,
    // A family of its own, minted here: nothing can have revoked it yet (no grant row lock needed).
    grantId: timeOrderedId(),
    newGrant: true,
    settings,
    certificateThumbprint: context.certificateThumbprint,
    resource: resourceIndicator(params),
    clientCredentials: true,
  });
};
