import type { ClientRecord } from "../clients.js";
import type { OAuthServer } from "../context.js";
import { OAuthError, invalidRequest, unauthorizedClient } from "../errors.js";
import { param as one } from "../params.js";
import { checkChallenge } from "../pkce.js";
import type { Params } from "../request.js";
import { grantableScopes, parseScope } from "../scope-request.js";
import type { OAuthSettings } from "../settings.js";
import { matchRedirectUri } from "../redirect-uri.js";

/** A validated authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3). */
export interface AuthorizationRequest {
  client: ClientRecord;
  redirectUri: string;
  redirectUriGiven: boolean;
  scopes: string[];
  state: string | undefined;
  codeChallenge: string | undefined;
}

/**
 * An error that must not be redirected (RFC 6749 §4.1.2.1): the client or redirect URI is missing, invalid
 * or mismatching. The resource owner is told on a page instead.
 */
export class UntrustedRequestError extends OAuthError {}

/** An error reported to the client by redirecting to its validated redirect URI (§4.1.2.1). */
export class RedirectableError extends OAuthError {
  constructor(
    readonly redirectUri: string,
    readonly state: string | undefined,
    cause: OAuthError,
  ) {
    super(cause.error, cause.message);
  }
}

const untrusted = (error: unknown): never => {
  const e = error instanceof OAuthError ? error : invalidRequest("malformed request");
  throw new UntrustedRequestError(e.error, e.message);
};

/** Client and redirect URI first (never redirect before both are trusted), then everything else. */
export async function parseAuthorizationRequest(
  server: OAuthServer,
  params: Params,
  settings: OAuthSettings,
): Promise<AuthorizationRequest> {
  let clientId: string | undefined;
  let given: string | undefined;
  try {
    clientId = one(params, "client_id");
    given = one(params, "redirect_uri");
  } catch (error) {
    untrusted(error);
  }
  if (clientId === undefined) throw new UntrustedRequestError("invalid_request", "client_id is required");
  const client = clientId.length <= 255 ? await server.clients.get(clientId) : undefined;
  if (!client) throw new UntrustedRequestError("invalid_request", "the client is not registered");
  if (!client.enabled) throw new UntrustedRequestError("invalid_request", "the client is disabled");
  let redirectUri: string;
  if (given !== undefined) {
    const matched = matchRedirectUri(client.redirectUris, given);
    if (!matched)
      throw new UntrustedRequestError("invalid_request", "redirect_uri is not registered for this client");
    redirectUri = matched;
  } else if (client.redirectUris.length === 1) redirectUri = client.redirectUris[0]!;
  else throw new UntrustedRequestError("invalid_request", "redirect_uri is required");

  let state: string | undefined;
  try {
    state = one(params, "state");
  } catch {
    state = undefined;
  }
  try {
    for (const [name, value] of Object.entries(params))
      if (Array.isArray(value)) throw invalidRequest(`${name} must not be repeated`);
    return {
      client,
      redirectUri,
      redirectUriGiven: given !== undefined,
      state,
      ...(await validateRest(server, client, params, settings)),
    };
  } catch (error) {
    if (error instanceof OAuthError) throw new RedirectableError(redirectUri, state, error);
    throw error;
  }
}

async function validateRest(
  server: OAuthServer,
  client: ClientRecord,
  params: Params,
  settings: OAuthSettings,
): Promise<{ scopes: string[]; codeChallenge: string | undefined }> {
  const responseType = one(params, "response_type");
  if (responseType === undefined) throw invalidRequest("response_type is required");
  if (responseType !== "code")
    throw new OAuthError("unsupported_response_type", "only response_type=code is supported");
  // Responses go in the query (§4.1.2); other modes (fragment, form_post, JARM) are not offered, so the
  // error still goes in the query, as OAuth 2.0 Multiple Response Type Encoding Practices §2.1 defaults.
  const mode = one(params, "response_mode");
  if (mode !== undefined && mode !== "query") throw invalidRequest("response_mode must be query");
  if (!client.grantTypes.includes("authorization_code"))
    throw unauthorizedClient("the client may not use the authorization_code grant");
  const scopes = await grantableScopes(parseScope(one(params, "scope")), client, server.scopes);
  const challenge = one(params, "code_challenge");
  const method = one(params, "code_challenge_method");
  if (challenge === undefined) {
    if (method !== undefined) throw invalidRequest("code_challenge_method without code_challenge");
    // RFC 9700 §2.1.1: PKCE is required of public clients, and of all when requirePkce is on.
    if (client.type === "public" || settings.requirePkce)
      throw invalidRequest("code_challenge is required (PKCE with S256)");
    refuseSilentPrompt(params);
    return { scopes, codeChallenge: undefined };
  }
  const codeChallenge = checkChallenge(challenge, method);
  refuseSilentPrompt(params);
  return { scopes, codeChallenge };
}

/**
 * `prompt=none` (OpenID Connect Core §3.1.2.1, honoured by OAuth clients too) asks for an answer without
 * any page. This server keeps no sign-in session and never remembers an approval, so it can never comply:
 * login_required (§3.1.2.6), redirected. `login` and `consent` are what every request gets anyway.
 */
function refuseSilentPrompt(params: Params): void {
  const prompt = one(params, "prompt");
  if (prompt?.split(" ").includes("none"))
    throw new OAuthError("login_required", "prompt=none: the resource owner must sign in and approve");
}
