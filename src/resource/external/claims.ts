import type { ActiveToken } from "../types.js";

/** How one external server's claims become an ActiveToken. */
export interface ClaimMapping {
  server: string;
  /** The fixed Conduit user requests run as. */
  user: string | null;
  /** A claim whose value names the Conduit user instead (for example `sub` or `username`). */
  subjectClaim: string | null;
}

export type Claims = Record<string, unknown>;

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
  if (typeof nbf === "number" && nbf * 1000 > now) return { refused: "the token is not valid yet (nbf)" };

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

function stringClaim(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
