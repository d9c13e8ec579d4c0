import { safeEqual, sha256 } from "../kernel/crypto.js";
import { invalidGrant, invalidRequest } from "./errors.js";

/** RFC 7636 §4.1: code_verifier = 43*128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is always 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Checks the challenge of an authorization request. Only S256 is offered (RFC 9700 §2.1.1: "plain" gives
 * no protection if the request leaks); a missing method means "plain" (RFC 7636 §4.3) and is refused.
 */
export function checkChallenge(challenge: string, method: string | undefined): string {
  if (method !== "S256") throw invalidRequest("code_challenge_method must be S256");
  if (!S256_CHALLENGE.test(challenge)) throw invalidRequest("code_challenge is not a S256 challenge");
  return challenge;
}

/**
 * RFC 7636 §4.6 at the token endpoint. RFC 9700 §2.1.1: a code issued without a challenge must not be
 * redeemed with a verifier (a PKCE downgrade), and one issued with a challenge needs its verifier.
 */
export function verifyPkce(challenge: string | undefined, verifier: string | undefined): void {
  if (challenge === undefined) {
    if (verifier !== undefined) throw invalidGrant("code_verifier sent for a code issued without PKCE");
    return;
  }
  if (verifier === undefined) throw invalidGrant("code_verifier is required");
  if (!VERIFIER.test(verifier)) throw invalidGrant("code_verifier is malformed");
  if (!safeEqual(sha256(verifier), challenge)) throw invalidGrant("code_verifier does not match");
}
