import { sha256 } from "../../kernel/crypto.js";
import { invalidGrant } from "../errors.js";
import { param, requiredParam } from "../params.js";
import { requireOwner } from "../owners.js";
import { verifyPkce } from "../pkce.js";
import { grantableScopes } from "../scope-request.js";
import { mintTokens, refreshAllowed, resourceIndicator } from "../token-factory.js";
import type { GrantContext, GrantHandler } from "./registry.js";

/**
 * RFC 6749 §4.1.3: the authorization code grant, with PKCE (RFC 7636 §4.6). The code is single-use and
 * consumed atomically; a replay is refused and revokes every token issued from it (§4.1.2, RFC 9700 §4.2.4).
 */
export const authorizationCodeGrant: GrantHandler = async (context) => {
  const { server, client, params, settings } = context;
  const code = requiredParam(params, "code", { max: 512 });
  const digest = sha256(code);
  const record = await server.codes.get(digest);
  if (!record || record.clientId !== client.clientId) throw invalidGrant("the code is not valid");
  if (record.consumedAt !== undefined) return replay(context, record.grantId);
  if (record.expiresAt <= server.clock.now()) throw invalidGrant("the code has expired");
  // §4.1.3: redirect_uri is required and identical when the authorization request had it.
  const redirectUri = param(params, "redirect_uri", { max: 2000 });
  if (record.redirectUriGiven || redirectUri !== undefined)
    if (redirectUri !== record.redirectUri) throw invalidGrant("redirect_uri does not match");
  verifyPkce(record.codeChallenge, param(params, "code_verifier", { max: 256 }));
  await requireOwner(server, record.username);
  // The scopes were checked at authorization; check again so a scope deleted since is refused.
  const scopes = await grantableScopes(record.scopes, client, server.scopes);
  const { records, response } = await mintTokens(server, {
    client,
    username: record.username,
    scopes,
    grantId: record.grantId,
    ...(refreshAllowed(client, 0) ? { refresh: { scopes, count: 0 } } : {}),
    settings,
    certificateThumbprint: context.certificateThumbprint,
    resource: resourceIndicator(params),
  });
  // Consumed and stored at once, so a concurrent replay revokes these tokens too.
  if (!(await server.codes.redeem(digest, server.clock.now(), records)))
    return replay(context, record.grantId);
  return response;
};

async function replay({ server, client, ip }: GrantContext, grantId: string): Promise<never> {
  const revoked = await server.tokens.revokeGrant(grantId, server.clock.now());
  server.log.warn(
    { event: "oauth_code_replay", clientId: client.clientId, grantId, revoked, ip },
    "authorization code used twice: its tokens are revoked",
  );
  throw invalidGrant("the code has already been used");
}
