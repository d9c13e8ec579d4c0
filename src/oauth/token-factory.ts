import { opaqueToken, timeOrderedId, tokenDigest } from "./ids.js";
import { OAuthError } from "./errors.js";
import { param } from "./params.js";
import type { Params } from "./request.js";
import type { ClientRecord } from "./clients.js";
import type { OAuthServer } from "./context.js";
import type { OAuthSettings } from "./settings.js";
import type { TokenRecord } from "./tokens.js";

/** RFC 6749 §5.1 successful response. */
export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in?: number;
  refresh_token?: string;
  scope: string;
}

export interface IssueRequest {
  client: ClientRecord;
  /** The resource owner, or the client's runAsUser for client credentials. */
  username: string | undefined;
  scopes: string[];
  grantId: string;
  /** Present when a refresh token is to be issued: the scopes it carries and the refreshes used so far. */
  refresh?: { scopes: string[]; count: number };
  settings: OAuthSettings;
  /** RFC 8705 §3: the access token is bound to this certificate thumbprint (x5t#S256). */
  certificateThumbprint?: string | undefined;
  /** RFC 8707: the resource indicator asked for; a JWT access token names it as its `aud`. */
  resource?: string | undefined;
  /** A client_credentials token: its `sub` is the client (RFC 9068 §2.2), not the runAsUser. */
  clientCredentials?: boolean;
  /** `grantId` was minted for this issuance (TokenRecord.newGrant): its rows skip the grant row lock. */
  newGrant?: boolean;
}

/** JWT access tokens always expire (RFC 9068 §2.2): a lifetime of 0 ("never") becomes this. */
export const JWT_MAX_LIFETIME = 3650 * 86_400;

/**
 * Access tokens are opaque (256 random bits) or JWTs (RFC 9068, `accessTokenFormat` of the client, else the
 * global setting); refresh tokens are always opaque. Every token is stored as the SHA-256 digest of its value
 * with client, owner, scopes, times and grant id (RFC 6749 §10.10: guessing probability ≤ 2^-128), so
 * introspection, revocation and the admin API treat both formats alike; a JWT's `jti` is its row's id.
 * Access and refresh tokens of one response go in with one statement.
 */
export async function issueTokens(server: OAuthServer, request: IssueRequest): Promise<TokenResponse> {
  const { records, response } = await mintTokens(server, request);
  await server.tokens.insert(records);
  return response;
}

/** The rows and the §5.1 response of one issuance, not yet stored (a code redemption stores them itself). */
export async function mintTokens(
  server: OAuthServer,
  request: IssueRequest,
): Promise<{ records: TokenRecord[]; response: TokenResponse }> {
  const now = server.clock.now();
  const format = request.client.accessTokenFormat ?? request.settings.accessTokenFormat;
  let lifetime = request.client.accessTokenLifetime ?? request.settings.accessTokenLifetime;
  if (format === "jwt" && lifetime === 0) lifetime = JWT_MAX_LIFETIME;
  const id = timeOrderedId();
  const accessToken =
    format === "jwt" ? await signAccessToken(server, request, id, now, lifetime) : opaqueToken();
  const records: TokenRecord[] = [
    record(request, "access", accessToken, now, lifetime, request.scopes, 0, id),
  ];
  let refreshToken: string | undefined;
  if (request.refresh) {
    refreshToken = opaqueToken();
    records.push(
      record(
        request,
        "refresh",
        refreshToken,
        now,
        request.settings.refreshTokenLifetime,
        request.refresh.scopes,
        request.refresh.count,
      ),
    );
  }
  const response: TokenResponse = {
    access_token: accessToken,
    token_type: "Bearer",
    ...(lifetime > 0 ? { expires_in: lifetime } : {}),
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
    scope: request.scopes.join(" "),
  };
  return { records, response };
}

/**
 * RFC 9068 §2.2: `iss`, `sub` (the resource owner; the client for client_credentials, which has none),
 * `aud` (the RFC 8707 resource when asked, else the client), `client_id`, `scope`, `jti`, `iat`, `exp`,
 * and `cnf` for a certificate-bound token (RFC 8705 §3.1); header `typ: at+jwt` and the key's `kid`.
 */
async function signAccessToken(
  server: OAuthServer,
  request: IssueRequest,
  jti: string,
  now: number,
  lifetime: number,
): Promise<string> {
  const iat = Math.floor(now / 1000);
  return server.signingKeys.sign({
    iss: server.issuer,
    sub:
      request.clientCredentials || request.username === undefined
        ? request.client.clientId
        : request.username,
    aud: request.resource ?? request.client.clientId,
    client_id: request.client.clientId,
    scope: request.scopes.join(" "),
    jti,
    iat,
    exp: iat + lifetime,
    ...(request.certificateThumbprint === undefined
      ? {}
      : { cnf: { "x5t#S256": request.certificateThumbprint } }),
  });
}

/**
 * RFC 8707 §2: the `resource` parameter of a token request, an absolute URI without a fragment; anything
 * else is `invalid_target`. Given once (a repeated parameter is refused by the endpoint).
 */
export function resourceIndicator(params: Params): string | undefined {
  const value = param(params, "resource", { max: 2048 });
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || value.includes("#"))
    throw new OAuthError(
      "invalid_target",
      "resource must be an absolute URI without a fragment (RFC 8707 §2)",
    );
  return value;
}

function record(
  request: IssueRequest,
  kind: "access" | "refresh",
  value: string,
  now: number,
  lifetimeSeconds: number,
  scopes: string[],
  refreshCount: number,
  id: string = timeOrderedId(),
): TokenRecord {
  return {
    id,
    digest: tokenDigest(value),
    kind,
    clientId: request.client.clientId,
    username: request.username,
    scopes,
    grantId: request.grantId,
    issuedAt: now,
    expiresAt: lifetimeSeconds > 0 ? now + lifetimeSeconds * 1000 : undefined,
    revokedAt: undefined,
    refreshCount,
    rotatedAt: undefined,
    ...(request.newGrant === true ? { newGrant: true } : {}),
    // RFC 8705 §3.1 binds access tokens; §4: a public client's refresh token is bound too (a confidential
    // client's is bound to its authentication already).
    ...(request.certificateThumbprint !== undefined && (kind === "access" || request.client.type === "public")
      ? { certificateThumbprint: request.certificateThumbprint }
      : {}),
  };
}

/**
 * Whether a grant hands out a refresh token: the client is allowed the refresh_token grant and its
 * refresh limit (undefined = unlimited, 0 = none) is not used up by `count` refreshes.
 */
export function refreshAllowed(client: ClientRecord, count: number): boolean {
  if (!client.grantTypes.includes("refresh_token")) return false;
  return client.refreshLimit === undefined || count < client.refreshLimit;
}
