import { tokenDigest } from "../ids.js";
import { authenticateClient } from "../client-auth.js";
import type { OAuthServer } from "../context.js";
import { invalidRequest } from "../errors.js";
import { param, postParams, refuseRepeated, requiredParam } from "../params.js";
import { NO_STORE, type OAuthRequest, type OAuthResponse } from "../request.js";
import { requireSecure } from "../transport.js";

/**
 * Token revocation (RFC 7009): access or refresh tokens; token_type_hint is only a hint (§2.1); a refresh
 * token revokes the access tokens of its grant too (§2.1 "SHOULD also invalidate"); a client may revoke only
 * its own tokens (§2.1); an unknown token answers 200 (§2.2). Also `/invoke/pub.oauth/revokeToken`.
 *
 * Another client's token: §2.1 says the request "is refused", so an authenticated (confidential) caller gets
 * invalid_request. A public client has proved nothing but a client_id, so it gets the answer of an unknown
 * token, 200 with nothing revoked, and learns nothing about the token (as node-oidc-provider does).
 */
export async function revocationEndpoint(server: OAuthServer, request: OAuthRequest): Promise<OAuthResponse> {
  const settings = await server.settings.get();
  requireSecure(request, settings);
  const params = postParams(request);
  refuseRepeated(params);
  const { client, method } = await authenticateClient(server, request, params, { allowPublic: true });
  const value = requiredParam(params, "token", { max: 4096 });
  param(params, "token_type_hint", { max: 100 });
  const token = await server.tokens.findByDigest(tokenDigest(value));
  if (token) {
    if (token.clientId !== client.clientId) {
      if (method === "none") return REVOKED;
      throw invalidRequest("the token was not issued to this client");
    }
    const now = server.clock.now();
    const count =
      token.kind === "refresh"
        ? await server.tokens.revokeGrant(token.grantId, now)
        : Number(await server.tokens.revoke(token.id, now));
    server.log.info(
      { event: "oauth_revoked", clientId: client.clientId, tokenId: token.id, kind: token.kind, count },
      "token revoked",
    );
  }
  return REVOKED;
}

/** RFC 7009 §2.2: 200, no body. */
const REVOKED: OAuthResponse = { kind: "empty", status: 200, headers: { ...NO_STORE } };
