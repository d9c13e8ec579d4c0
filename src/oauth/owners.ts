import { invalidGrant } from "./errors.js";
import type { OAuthServer } from "./context.js";

/**
 * Resource owners and their tokens. A deleted user's tokens are revoked for good (a user re-created under
 * the same name does not inherit them), and every grant and introspection also checks the owner still
 * exists, so the deletion takes effect on the very next request even before the revocation has landed.
 */
export function revokeTokensOfDeletedUsers(server: OAuthServer): void {
  server.changes.subscribe((change) => {
    if (change.kind !== "user" || change.key === undefined) return;
    const username = change.key;
    void (async () => {
      if (await server.userExists(username)) return;
      const revoked = await server.tokens.revokeUser(username, server.clock.now());
      if (revoked > 0)
        server.log.info(
          { event: "oauth_user_revoked", user: username, revoked },
          "a deleted user's tokens revoked",
        );
    })().catch((err: unknown) =>
      server.log.warn({ event: "oauth_user_revoke_failed", err }, "revoking a deleted user's tokens failed"),
    );
  });
}

/** Whether the owner of a token (the resource owner, or a client's runAsUser) still exists. */
export async function ownerExists(server: OAuthServer, username: string | undefined): Promise<boolean> {
  return username === undefined || (await server.userExists(username));
}

/** RFC 6749 §5.2: a grant whose resource owner is gone is invalid_grant. */
export async function requireOwner(server: OAuthServer, username: string): Promise<void> {
  if (!(await server.userExists(username))) throw invalidGrant("the resource owner no longer exists");
}
