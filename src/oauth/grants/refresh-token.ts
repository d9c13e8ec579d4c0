import { tokenDigest } from "../ids.js";
import { invalidGrant, invalidScope } from "../errors.js";
import { requireOwner } from "../owners.js";
import { param, requiredParam } from "../params.js";
import { grantableScopes, parseScope } from "../scope-request.js";
import { issueTokens, refreshAllowed, resourceIndicator } from "../token-factory.js";
import { GrantRevokedError, type TokenRecord } from "../tokens.js";
import type { GrantContext, GrantHandler } from "./registry.js";

/**
 * RFC 6749 §6: refreshing. Refresh tokens rotate (RFC 9700 §4.14.2): the one presented is exchanged
 * atomically; a later use of it is a reuse that revokes the whole family, except within the grace window
 * (`refreshGraceSeconds`), where a concurrent retry still succeeds. The client's refresh limit is honoured
 * and the scope may only narrow (§6 "MUST NOT include any scope not originally granted"). A `resource`
 * (RFC 8707 §2.2) names the audience of the new access token, as on the other grants; it is checked before
 * the presented token is exchanged, so a bad one leaves that token usable.
 */
export const refreshTokenGrant: GrantHandler = async (context) => {
  const { server, client, params, settings } = context;
  const value = requiredParam(params, "refresh_token", { max: 512 });
  const token = await server.tokens.findByDigest(tokenDigest(value));
  const now = server.clock.now();
  if (!token || token.kind !== "refresh" || token.clientId !== client.clientId)
    throw invalidGrant("the refresh token is not valid");
  if (token.revokedAt !== undefined) throw invalidGrant("the refresh token has been revoked");
  if (token.expiresAt !== undefined && token.expiresAt <= now)
    throw invalidGrant("the refresh token has expired");
  // RFC 8705 §4: a public client's refresh token is bound to the certificate it was issued with.
  if (
    token.certificateThumbprint !== undefined &&
    token.certificateThumbprint !== context.certificateThumbprint
  )
    throw invalidGrant("the refresh token is bound to another client certificate");
  if (token.username !== undefined) await requireOwner(server, token.username);
  if (client.refreshLimit !== undefined && token.refreshCount >= client.refreshLimit)
    throw invalidGrant("the refresh limit is reached");
  const requested = parseScope(param(params, "scope"));
  const beyond = (requested ?? []).filter((s) => !token.scopes.includes(s));
  if (beyond.length > 0) throw invalidScope(`scope beyond the original grant: ${beyond.join(" ")}`);
  const scopes = await grantableScopes(requested ?? token.scopes, client, server.scopes);
  const resource = resourceIndicator(params);
  await rotate(context, token);
  const count = token.refreshCount + 1;
  try {
    return await issueTokens(server, {
      client,
      username: token.username,
      scopes,
      grantId: token.grantId,
      ...(refreshAllowed(client, count) ? { refresh: { scopes: token.scopes, count } } : {}),
      settings,
      certificateThumbprint: context.certificateThumbprint,
      resource,
    });
  } catch (error) {
    // The family was revoked (a reuse elsewhere, a revocation) after the presented token was read: the
    // insert checks the grant row under its lock in the transaction that writes the tokens, so nothing was
    // stored; a revocation that commits later waits for that transaction and revokes the new tokens.
    if (error instanceof GrantRevokedError) throw invalidGrant("the refresh token was revoked");
    throw error;
  }
};

async function rotate({ server, settings, client, ip }: GrantContext, token: TokenRecord): Promise<void> {
  const now = server.clock.now();
  if (token.rotatedAt === undefined && (await server.tokens.markRotated(token.id, now))) return;
  const rotatedAt = token.rotatedAt ?? (await server.tokens.get(token.id))?.rotatedAt;
  if (rotatedAt !== undefined && now - rotatedAt <= settings.refreshGraceSeconds * 1000) return;
  const revoked = await server.tokens.revokeGrant(token.grantId, now);
  server.log.warn(
    { event: "oauth_refresh_reuse", clientId: client.clientId, grantId: token.grantId, revoked, ip },
    "a rotated refresh token was used again: its family is revoked",
  );
  throw invalidGrant("the refresh token was already used");
}
