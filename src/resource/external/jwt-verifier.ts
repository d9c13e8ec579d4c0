import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import type { Clock } from "../../kernel/clock.js";
import type { Logger } from "../../kernel/logger.js";
import { mapClaims, type ClaimMapping } from "./claims.js";
import type { ResourceMetrics } from "./metrics.js";
import type { TokenCache } from "./token-cache.js";
import { UpstreamError } from "./upstream-error.js";
import { CachingVerifier, type Verdict } from "./verdicts.js";

export interface JwtTarget {
  issuer: string;
  jwksUri: string;
  /** Required `aud` value, when configured. */
  audience: string | null;
  timeoutMs: number;
}

/** Least time between two JWKS fetches (a floor on refetching for unknown `kid`s). */
export const JWKS_COOLDOWN_MS = 30_000;
/** Keys are refetched at least this often even when every `kid` is known. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
/** Asymmetric algorithms only: a JWKS publishes public keys (RFC 8725 §3.1). */
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
/** Leeway for clocks that differ a little between servers (exp, nbf, iat). */
const CLOCK_TOLERANCE_S = 5;

/** Token errors: the token is bad. Anything else (JWKS unreachable, slow, malformed) is a 503. */
const TOKEN_ERRORS = new Set([
  "ERR_JWT_EXPIRED",
  "ERR_JWT_CLAIM_VALIDATION_FAILED",
  "ERR_JWT_INVALID",
  "ERR_JWS_INVALID",
  "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
  "ERR_JWKS_NO_MATCHING_KEY",
  "ERR_JWKS_MULTIPLE_MATCHING_KEYS",
  "ERR_JOSE_ALG_NOT_ALLOWED",
  "ERR_JOSE_NOT_SUPPORTED",
]);

/**
 * JWT access tokens of an external server (such as Okta's), verified locally against its JWKS with jose:
 * signature, `iss`, `aud` when configured, `exp` (required) and `nbf` (RFC 7519 §4.1, RFC 9068 §4).
 * Keys are cached; an unknown `kid` refetches the JWKS, at most once per JWKS_COOLDOWN_MS.
 */
export class JwtVerifier extends CachingVerifier {
  private readonly keys: JWTVerifyGetKey;

  constructor(
    private readonly target: JwtTarget,
    private readonly mapping: ClaimMapping,
    cache: TokenCache,
    clock: Clock,
    metrics: ResourceMetrics,
    log: Logger,
  ) {
    super(mapping.server, cache, clock, metrics, log);
    this.keys = createRemoteJWKSet(new URL(target.jwksUri), {
      timeoutDuration: target.timeoutMs,
      cooldownDuration: JWKS_COOLDOWN_MS,
      cacheMaxAge: JWKS_MAX_AGE_MS,
    });
  }

  protected async decide(token: string): Promise<Verdict> {
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        issuer: this.target.issuer,
        ...(this.target.audience ? { audience: this.target.audience } : {}),
        algorithms: ALGORITHMS,
        requiredClaims: ["exp"],
        clockTolerance: CLOCK_TOLERANCE_S,
        currentDate: new Date(this.clock.now()),
      });
      this.metrics.jwtVerifications.inc({ server: this.server, outcome: "valid" });
      return mapClaims(payload, this.mapping, this.clock.now());
    } catch (error) {
      if (error instanceof errors.JOSEError && TOKEN_ERRORS.has(error.code)) {
        this.metrics.jwtVerifications.inc({ server: this.server, outcome: "invalid" });
        return { refused: `JWT rejected: ${error.code} ${error.message}` };
      }
      this.metrics.jwtVerifications.inc({ server: this.server, outcome: "error" });
      const reason = error instanceof errors.JWKSTimeout ? "timeout" : "jwks_unavailable";
      throw new UpstreamError(reason, `the JWKS of ${this.server} could not be read: ${describe(error)}`, {
        cause: error,
      });
    }
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  return cause ? `${error.message} (${cause})` : error.message;
}
