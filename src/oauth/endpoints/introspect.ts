import { tokenDigest } from "../ids.js";
import { authenticateClient } from "../client-auth.js";
import type { ClientRecord } from "../clients.js";
import { ownerExists } from "../owners.js";
import type { OAuthServer } from "../context.js";
import { postParams, refuseRepeated, requiredParam } from "../params.js";
import { json, type OAuthRequest, type OAuthResponse } from "../request.js";
import type { TokenWithClient } from "../tokens.js";
import { requireSecure } from "../transport.js";

const INACTIVE = { active: false } as const;

/**
 * Token introspection (RFC 7662): callers authenticate as confidential clients (§2.1); an active token
 * answers its claims (§2.2), anything else exactly {"active": false}, with `Cache-Control: no-store`.
 * token_type_hint is only a hint (§2.1): both kinds are looked up by one digest. Also
 * `/invoke/pub.oauth/introspectToken`.
 *
 * Who may see what (§4 leaves it to policy, "the authorization server MUST determine whether or not the
 * token can be used at the protected resource making the introspection call"): every confidential client
 * of this server may introspect access tokens, whichever client they were issued to, since resource servers
 * are registered as clients and check the tokens other clients present (Okta answers the same way). Refresh
 * tokens are only ever presented to this server, so only the client they were issued to learns they are
 * active; to anyone else they are {"active": false} (as node-oidc-provider does).
 */
export async function introspectionEndpoint(
  server: OAuthServer,
  request: OAuthRequest,
): Promise<OAuthResponse> {
  const settings = await server.settings.get();
  requireSecure(request, settings);
  const params = postParams(request);
  refuseRepeated(params);
  const { client } = await authenticateClient(server, request, params, { allowPublic: false });
  const value = requiredParam(params, "token", { max: 4096 });
  const token = await server.tokens.findByDigest(tokenDigest(value));
  if (!token || !isActive(token, server.clock.now()) || !mayIntrospect(client, token)) return json(INACTIVE);
  if (!(await ownerExists(server, token.username))) return json(INACTIVE);
  return json({
    active: true,
    scope: token.scopes.join(" "),
    client_id: token.clientId,
    ...(token.username === undefined ? {} : { username: token.username, sub: token.username }),
    token_type: token.kind === "access" ? "Bearer" : "refresh_token",
    ...(token.expiresAt === undefined ? {} : { exp: Math.floor(token.expiresAt / 1000) }),
    iat: Math.floor(token.issuedAt / 1000),
    iss: server.issuer,
    jti: token.id,
    // RFC 8705 §3.2: the confirmation of a certificate-bound token.
    ...(token.certificateThumbprint === undefined
      ? {}
      : { cnf: { "x5t#S256": token.certificateThumbprint } }),
  });
}

function mayIntrospect(caller: ClientRecord, token: TokenWithClient): boolean {
  return token.kind === "access" || token.clientId === caller.clientId;
}

/** Active: not revoked, not expired, its client enabled, and (refresh tokens) not yet rotated. */
export function isActive(token: TokenWithClient, now: number): boolean {
  if (token.revokedAt !== undefined || !token.clientEnabled) return false;
  if (token.expiresAt !== undefined && token.expiresAt <= now) return false;
  return !(token.kind === "refresh" && token.rotatedAt !== undefined);
}
