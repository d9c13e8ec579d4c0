import { decodeJwt } from "jose";
import { UnavailableError } from "../../kernel/errors.js";
import type { Logger } from "../../kernel/logger.js";
import type { TokenVerifier, VerifierSelector } from "../types.js";
import type { ServerRuntimes } from "./runtimes.js";
import { LOCAL, type AuthorizationServerSetting } from "./selection.js";
import { RETRY_AFTER_SECONDS } from "./verdicts.js";

/**
 * Picks the verifier of a bearer token:
 * 1. a JWT whose `iss` is the issuer of a configured external server goes to that server (its JWKS when
 *    it has one, else its introspection endpoint): several external servers can be used at once;
 * 2. anything else goes to the server selected by the global setting `authorizationServer`: `local`
 *    (this server's tokens) or an external server by name (RFC 7662 introspection).
 * The `iss` read here is unverified: it only chooses where the token is verified.
 */
export function createSelector(deps: {
  runtimes: ServerRuntimes;
  setting: AuthorizationServerSetting;
  local: () => TokenVerifier;
  log: Logger;
}): VerifierSelector {
  const { runtimes, setting, local, log } = deps;
  // Cached values are used without an await: this runs on every bearer request.
  return async (token) => {
    const servers = runtimes.current();
    const snapshot = servers instanceof Promise ? await servers : servers;
    if (snapshot.byIssuer.size > 0 && looksLikeJwt(token)) {
      const iss = unverifiedIssuer(token);
      const byIssuer = iss === undefined ? undefined : snapshot.byIssuer.get(iss);
      if (byIssuer) return byIssuer.jwt ?? byIssuer.introspection;
    }
    const pending = setting.current();
    const selected = pending instanceof Promise ? await pending : pending;
    if (selected === LOCAL) return local();
    const runtime = snapshot.byName.get(selected);
    if (runtime) return runtime.introspection;
    log.error(
      { event: "external_server_missing", server: selected },
      "the global settings select an authorization server that does not exist",
    );
    throw new UnavailableError(`the authorization server ${selected} is not configured`, RETRY_AFTER_SECONDS);
  };
}

/** A compact JWS: three base64url parts (RFC 7515 §7.1). */
function looksLikeJwt(token: string): boolean {
  const first = token.indexOf(".");
  return first > 0 && token.indexOf(".", first + 1) > first + 1 && token.split(".").length === 3;
}

function unverifiedIssuer(token: string): string | undefined {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === "string" ? iss : undefined;
  } catch {
    return undefined;
  }
}
