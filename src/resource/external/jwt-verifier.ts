import {
  createRemoteJWKSet,
  customFetch,
  errors,
  jwtVerify,
  type JWTHeaderParameters,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import { request, type Dispatcher } from "undici";
import type { Clock } from "../../kernel/clock.js";
import type { Logger } from "../../kernel/logger.js";
import { Breaker, DEFAULT_BREAKER, type BreakerSettings } from "./breaker.js";
import { mapClaims, type ClaimMapping } from "./claims.js";
import type { ResourceMetrics } from "./metrics.js";
import type { TokenCache } from "./token-cache.js";
import { readCapped, transportError, UpstreamError } from "./upstream-error.js";
import { CachingVerifier, type Verdict } from "./verdicts.js";

export interface JwtTarget {
  issuer: string;
  jwksUri: string;
  /** Required `aud` value, when configured. */
  audience: string | null;
  timeoutMs: number;
  /** The connections the JWKS is fetched on (an Agent presenting the server's client certificate). */
  dispatcher?: Dispatcher;
}

/** Least time between two JWKS fetches (a floor on refetching for unknown `kid`s). */
export const JWKS_COOLDOWN_MS = 30_000;
/** Keys are refetched at least this often even when every `kid` is known. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
/** Asymmetric algorithms only: a JWKS publishes public keys (RFC 8725 §3.1). */
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
/** Largest JWKS read (Okta's is a few kB); a larger one is an upstream failure (503). */
export const MAX_JWKS_BYTES = 256 * 1024;
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
 * Keys are cached; an unknown `kid` refetches the JWKS, at most once per JWKS_COOLDOWN_MS. Fetches are
 * bounded by `timeoutMs` and MAX_JWKS_BYTES and sit behind a circuit breaker; tokens whose key is cached
 * never wait for the JWKS. `typ` is checked as RFC 9068 §4 says, with the compatibility of accessTokenTyp.
 */
export class JwtVerifier extends CachingVerifier {
  private readonly keys: JWTVerifyGetKey;
  private readonly breaker: Breaker;

  constructor(
    private readonly target: JwtTarget,
    private readonly mapping: ClaimMapping,
    cache: TokenCache,
    clock: Clock,
    metrics: ResourceMetrics,
    log: Logger,
    breaker: BreakerSettings = DEFAULT_BREAKER,
  ) {
    super(mapping.server, cache, clock, metrics, log);
    this.breaker = new Breaker(clock, log, mapping.server, "the JWKS", breaker);
    this.keys = createRemoteJWKSet(new URL(target.jwksUri), {
      timeoutDuration: target.timeoutMs,
      cooldownDuration: JWKS_COOLDOWN_MS,
      cacheMaxAge: JWKS_MAX_AGE_MS,
      [customFetch]: (url: string, init: { signal: AbortSignal }) =>
        this.breaker.run(() => fetchJwks(url, init.signal, target.timeoutMs, target.dispatcher)),
    });
  }

  protected async decide(token: string): Promise<Verdict> {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.keys, {
        issuer: this.target.issuer,
        ...(this.target.audience ? { audience: this.target.audience } : {}),
        algorithms: ALGORITHMS,
        requiredClaims: ["exp"],
        clockTolerance: CLOCK_TOLERANCE_S,
        currentDate: new Date(this.clock.now()),
      });
      const wrongType = accessTokenTyp(protectedHeader, payload);
      this.metrics.jwtVerifications.inc({ server: this.server, outcome: wrongType ? "invalid" : "valid" });
      if (wrongType) return { refused: wrongType };
      return mapClaims(payload, this.mapping, this.clock.now());
    } catch (error) {
      if (error instanceof UpstreamError) {
        this.metrics.jwtVerifications.inc({ server: this.server, outcome: "error" });
        throw error;
      }
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

const AT_JWT = new Set(["at+jwt", "application/at+jwt"]);
const PLAIN_JWT = new Set(["jwt", "application/jwt"]);
/** Claims only ID tokens carry (OpenID Connect Core §2, §3.1.3.6, §3.3.2.11). */
const ID_TOKEN_CLAIMS = ["nonce", "at_hash", "c_hash"] as const;

/**
 * RFC 9068 §4: a resource server MUST check that `typ` is `at+jwt` (or `application/at+jwt`; media types
 * compare case-insensitively, RFC 7515 §4.1.9). Okta's access tokens carry no `typ` and Keycloak's and
 * Auth0's say `JWT`, so those are accepted too, except when the claims show an ID token (RFC 9068 §6:
 * an ID token must not be usable as an access token). Any other `typ` (dpop+jwt, logout+jwt, …) is
 * refused. Returns the refusal reason, or undefined.
 */
export function accessTokenTyp(header: JWTHeaderParameters, payload: JWTPayload): string | undefined {
  const typ = typeof header.typ === "string" ? header.typ.toLowerCase() : undefined;
  if (typ !== undefined && AT_JWT.has(typ)) return undefined;
  if (typ !== undefined && !PLAIN_JWT.has(typ))
    return `the JWT's typ ${header.typ} is not at+jwt (RFC 9068 §4)`;
  const idClaim = ID_TOKEN_CLAIMS.find((claim) => payload[claim] !== undefined);
  return idClaim ? `an ID token (it has ${idClaim}) is not an access token (RFC 9068 §6)` : undefined;
}

/** GET the JWKS for jose (RFC 7517 §5), within `timeoutMs` and MAX_JWKS_BYTES. */
async function fetchJwks(
  url: string,
  signal: AbortSignal,
  timeoutMs: number,
  dispatcher: Dispatcher | undefined,
): Promise<Response> {
  try {
    const response = await request(url, {
      ...(dispatcher ? { dispatcher } : {}),
      method: "GET",
      headers: { accept: "application/json, application/jwk-set+json" },
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    if (response.statusCode !== 200) {
      // Discard the body: destroying an unread undici body emits an 'error' nobody listens to (a crash).
      await response.body.dump().catch(() => undefined);
      throw new UpstreamError("unexpected_status", `the JWKS answered HTTP ${response.statusCode}`);
    }
    return new Response(await readCapped(response.body, MAX_JWKS_BYTES, "the JWKS"));
  } catch (error) {
    throw transportError(error, "the JWKS", timeoutMs);
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  return cause ? `${error.message} (${cause})` : error.message;
}
