import type { OAuthServer } from "../context.js";
import { TLS_AUTH_METHODS } from "../mtls.js";
import { json, type OAuthResponse } from "../request.js";

/** RFC 8414 §2, §3: authorization server metadata; `issuer` is CONDUIT_PUBLIC_URL. */
export async function metadataEndpoint(server: OAuthServer): Promise<OAuthResponse> {
  const base = server.issuer;
  const scopes = await server.scopes.list();
  // RFC 8705 §2.1.1, §2.2.1: only when the HTTPS listener asks for client certificates.
  const tlsMethods = server.mutualTls ? [...TLS_AUTH_METHODS] : [];
  const clientMethods = ["client_secret_basic", "client_secret_post", ...tlsMethods];
  const response = json({
    issuer: base,
    authorization_endpoint: `${base}/oauth2/authorize`,
    token_endpoint: `${base}/oauth2/token`,
    introspection_endpoint: `${base}/oauth2/introspect`,
    revocation_endpoint: `${base}/oauth2/revoke`,
    registration_endpoint: `${base}/oauth2/register`,
    // RFC 9068: the keys JWT access tokens are signed with.
    jwks_uri: `${base}/oauth2/jwks`,
    scopes_supported: scopes.map((s) => s.name),
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: server.grants.names(),
    token_endpoint_auth_methods_supported: [...clientMethods, "none"],
    introspection_endpoint_auth_methods_supported: clientMethods,
    revocation_endpoint_auth_methods_supported: [...clientMethods, "none"],
    code_challenge_methods_supported: ["S256"],
    // RFC 9207 §3
    authorization_response_iss_parameter_supported: true,
    // RFC 8705 §3.3
    ...(server.mutualTls ? { tls_client_certificate_bound_access_tokens: true } : {}),
  });
  return { ...response, headers: { "cache-control": "public, max-age=60" } };
}

/**
 * RFC 7517 §5: the public keys of JWT access tokens (RFC 9068), the current one and the previous ones
 * until the last token they signed has expired. Never cached by HTTP caches: a rotation is visible at once.
 */
export async function jwksEndpoint(server: OAuthServer): Promise<OAuthResponse> {
  const response = json(await server.signingKeys.jwks());
  return { ...response, headers: { "cache-control": "no-cache" } };
}
