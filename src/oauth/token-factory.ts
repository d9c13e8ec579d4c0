import { randomToken, sha256 } from "../kernel/crypto.js";
import { timeOrderedId } from "./ids.js";
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
}

/**
 * Opaque tokens of 256 random bits, stored only as SHA-256 digests with client, owner, scopes, times and
 * grant id (RFC 6749 §10.10: guessing probability ≤ 2^-128). Access and refresh tokens of one response go
 * in with one statement.
 */
export async function issueTokens(server: OAuthServer, request: IssueRequest): Promise<TokenResponse> {
  const { records, response } = mintTokens(server, request);
  await server.tokens.insert(records);
  return response;
}

/** The rows and the §5.1 response of one issuance, not yet stored (a code redemption stores them itself). */
export function mintTokens(
  server: OAuthServer,
  request: IssueRequest,
): { records: TokenRecord[]; response: TokenResponse } {
  const now = server.clock.now();
  const lifetime = request.client.accessTokenLifetime ?? request.settings.accessTokenLifetime;
  const accessToken = randomToken(32);
  const records: TokenRecord[] = [record(request, "access", accessToken, now, lifetime, request.scopes, 0)];
  let refreshToken: string | undefined;
  if (request.refresh) {
    refreshToken = randomToken(32);
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

function record(
  request: IssueRequest,
  kind: "access" | "refresh",
  value: string,
  now: number,
  lifetimeSeconds: number,
  scopes: string[],
  refreshCount: number,
): TokenRecord {
  return {
    id: timeOrderedId(),
    digest: sha256(value),
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
