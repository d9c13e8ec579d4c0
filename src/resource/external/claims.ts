import type { ActiveToken } from "../types.js";

/** How one external server's claims become an ActiveToken. */
export interface ClaimMapping {
  server: string;
  /** The fixed Conduit user requests run as. */
  user: string | null;
  /** A claim whose value names the Conduit user instead (for example `sub` or `username`). */
  subjectClaim: string | null;
  /** When configured, a token that names its audiences must name this one. */
  audience: string | null;
}

export type Claims = Record<string, unknown>;

/** Clocks of two servers differ a little: a token may be used this soon before its nbf. */
const NBF_LEEWAY_MS = 5_000;

/** The verdict on a set of claims: the token, or the reason it is refused (for the log). */
export type Mapped = { token: ActiveToken } | { refused: string };

/**
 * Maps introspection answers (RFC 7662 §2.2) and JWT access tokens (RFC 9068 §2.2) to an ActiveToken.
 * Scopes come as a space-separated `scope` (RFC 7662, RFC 8693 §4.2) or an Okta-style `scp` array; they
 * are mapped to Conduit scopes by name, per request, by the bearer authenticator.
 */
export function mapClaims(claims: Claims, mapping: ClaimMapping, now: number): Mapped {
  // RFC 7662 §2.2 leaves exp optional; we require it so that no answer is trusted for ever.
  const exp = claims.exp;
  if (typeof exp !== "number" || !Number.isFinite(exp)) return { refused: "the token has no exp" };
  const expiresAt = exp * 1000;
  if (expiresAt <= now) return { refused: "the token has expired" };
  const nbf = claims.nbf;
  if (typeof nbf === "number" && nbf * 1000 > now + NBF_LEEWAY_MS)
    return { refused: "the token is not valid yet (nbf)" };

  // Okta answers token_type "refresh_token" for refresh tokens: those never authorize a request.
  if (typeof claims.token_type === "string" && claims.token_type.toLowerCase() === "refresh_token")
    return { refused: "a refresh token is not an access token" };
  // RFC 9449 §7.1, RFC 8705 §3: a sender-constrained token needs its proof, which plain Bearer lacks.
  if (claims.cnf !== undefined && claims.cnf !== null)
    return { refused: "a sender-constrained token (cnf) was presented as a plain bearer token" };
  // RFC 7662 §4: the protected resource checks that it is an intended audience.
  if (mapping.audience && claims.aud !== undefined && !audiences(claims.aud).includes(mapping.audience))
    return { refused: `the token is not meant for this audience (${mapping.audience})` };

  let runAs = mapping.user;
  if (mapping.subjectClaim) {
    const subject = claims[mapping.subjectClaim];
    if (typeof subject !== "string" || subject === "")
      return { refused: `the token has no ${mapping.subjectClaim} claim to map to a user` };
    runAs = subject;
  }
  if (!runAs) return { refused: "no user is configured to run as" };

  const clientId = stringClaim(claims.client_id) ?? stringClaim(claims.cid);
  const subject = stringClaim(claims.sub);
  return {
    token: {
      scopes: scopesOf(claims),
      runAs,
      server: mapping.server,
      expiresAt,
      ...(clientId === undefined ? {} : { clientId }),
      ...(subject === undefined ? {} : { subject }),
    },
  };
}

/** `scope` (space-separated string) or `scp` (array of strings, or a string). */
export function scopesOf(claims: Claims): string[] {
  const raw = typeof claims.scope === "string" ? claims.scope : claims.scp;
  const list = typeof raw === "string" ? raw.split(" ") : Array.isArray(raw) ? raw : [];
  return [...new Set(list.filter((s): s is string => typeof s === "string" && s !== ""))];
}

function audiences(aud: unknown): string[] {
  return typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud.filter((a) => typeof a === "string") : [];
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
