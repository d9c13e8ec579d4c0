import { randomToken } from "../kernel/crypto.js";
import type { ClientRecord } from "./clients.js";
import type { OAuthServer } from "./context.js";
import { ADMIN_NAMES, isTlsAuthMethod, subjectProblem } from "./mtls.js";
import { redirectUriProblem } from "./redirect-uri.js";

/** A rule a client breaks, naming the field (admin API) and the RFC 7591 §3.2.2 error it maps to. */
export interface ClientProblem {
  field: string;
  message: string;
  error: "invalid_redirect_uri" | "invalid_client_metadata";
}

/** 256 bits (RFC 6749 §10.10 and the floor for secrets). */
export const newClientSecret = (): string => randomToken(32);
export const newClientId = (): string => randomToken(16);

/**
 * The rules every client obeys, however it was created (admin API or RFC 7591): redirect URIs valid and
 * present for the code grant; client_credentials only for confidential clients and with a runAsUser that
 * exists; scopes that exist.
 */
export async function clientProblem(
  server: OAuthServer,
  client: Pick<ClientRecord, "type" | "redirectUris" | "grantTypes" | "scopes" | "runAsUser"> &
    Partial<Pick<ClientRecord, "tokenEndpointAuthMethod" | "tlsClientAuth" | "jwks">>,
): Promise<ClientProblem | undefined> {
  const tls = tlsProblem(client);
  if (tls) return tls;
  for (const uri of client.redirectUris) {
    const problem = redirectUriProblem(uri);
    if (problem)
      return {
        field: "redirectUris",
        message: `redirect URI ${uri} ${problem}`,
        error: "invalid_redirect_uri",
      };
  }
  if (client.grantTypes.includes("authorization_code") && client.redirectUris.length === 0)
    return {
      field: "redirectUris",
      message: "at least one redirect URI is needed for the authorization_code grant",
      error: "invalid_redirect_uri",
    };
  if (client.grantTypes.includes("client_credentials")) {
    if (client.type !== "confidential")
      return {
        field: "grantTypes",
        message: "client_credentials is for confidential clients only",
        error: "invalid_client_metadata",
      };
    if (client.runAsUser === undefined)
      return {
        field: "runAsUser",
        message: "runAsUser is required with client_credentials",
        error: "invalid_client_metadata",
      };
  }
  if (client.runAsUser !== undefined && !(await server.userExists(client.runAsUser)))
    return {
      field: "runAsUser",
      message: `user ${client.runAsUser} does not exist`,
      error: "invalid_client_metadata",
    };
  const unknown = await server.scopes.unknown(client.scopes);
  if (unknown.length > 0)
    return {
      field: "scopes",
      message: `unknown scope${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`,
      error: "invalid_client_metadata",
    };
  return undefined;
}

/**
 * RFC 8705 §2: certificate methods are for confidential clients; tls_client_auth needs exactly one
 * subject DN or SAN (§2.1.2), self_signed_tls_client_auth a JWKS of its certificates (§2.2.2).
 */
function tlsProblem(
  client: Pick<ClientRecord, "type"> &
    Partial<Pick<ClientRecord, "tokenEndpointAuthMethod" | "tlsClientAuth" | "jwks">>,
): ClientProblem | undefined {
  const method = client.tokenEndpointAuthMethod;
  if (!isTlsAuthMethod(method)) return undefined;
  if (client.type !== "confidential")
    return {
      field: "tokenEndpointAuthMethod",
      message: `${method} is for confidential clients`,
      error: "invalid_client_metadata",
    };
  if (method === "tls_client_auth") {
    const problem = subjectProblem(client.tlsClientAuth ?? {});
    const given = Object.keys(client.tlsClientAuth ?? {})[0] as keyof typeof ADMIN_NAMES | undefined;
    if (problem)
      return {
        field: given ? ADMIN_NAMES[given] : ADMIN_NAMES.subjectDn,
        message: `tls_client_auth ${problem}`,
        error: "invalid_client_metadata",
      };
  }
  if (method === "self_signed_tls_client_auth" && !client.jwks?.keys.length)
    return {
      field: "jwks",
      message: "self_signed_tls_client_auth needs the client's certificates (jwks or tlsClientCertificates)",
      error: "invalid_client_metadata",
    };
  return undefined;
}
