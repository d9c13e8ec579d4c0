import { randomToken, sha256 } from "../../kernel/crypto.js";
import { REALM } from "../../security/basic.js";
import {
  registrationTokenDigest,
  registrationTokenMatches,
  secretDigest,
  secretMatches,
} from "../client-auth.js";
import { clientProblem, newClientId, newClientSecret } from "../client-rules.js";
import type { ClientRecord, GrantType } from "../clients.js";
import type { OAuthServer } from "../context.js";
import { OAuthError, methodNotAllowed } from "../errors.js";
import {
  allowedGrants,
  DEFAULT_GRANTS,
  usesLeft,
  type InitialAccessTokenRecord,
  type RegistrationRecord,
} from "../initial-access-tokens.js";
import {
  checkJwks,
  isTlsAuthMethod,
  RFC_NAMES,
  SUBJECT_KINDS,
  TLS_AUTH_METHODS,
  type TlsClientAuthSubject,
} from "../mtls.js";
import { parseScope } from "../scope-request.js";
import { NO_STORE, json, type OAuthRequest, type OAuthResponse } from "../request.js";
import { requireSecure } from "../transport.js";

/**
 * Dynamic client registration (RFC 7591), authorized by an initial access token that an administrator
 * created (§3), and its management protocol (RFC 7592) with the registration access token. The token's
 * policy bounds what a registration may ask for: its scopes, its grant types (client_credentials only with
 * the policy's run-as user, which the registered client gets) and how many registrations it allows. A
 * token without a policy registers one client with authorization_code and refresh_token, any scope.
 */
export async function registrationEndpoint(
  server: OAuthServer,
  request: OAuthRequest,
): Promise<OAuthResponse> {
  if (request.method !== "POST") throw methodNotAllowed(["POST"]);
  requireSecure(request, await server.settings.get());
  const iat = await server.initialAccessTokens.get(sha256(bearer(request, "an initial access token")));
  const now = server.clock.now();
  if (!iat || usesLeft(iat) === 0 || iat.expiresAt <= now)
    throw invalidToken("the initial access token is not valid");
  const limits = policyLimits(iat);
  const metadata = await parseMetadata(server, request, limits);
  const clientId = newClientId();
  // RFC 8705 §2: a client authenticating with its certificate gets no secret.
  const secret =
    metadata.type === "confidential" && !isTlsAuthMethod(metadata.tokenEndpointAuthMethod)
      ? newClientSecret()
      : undefined;
  const registrationToken = randomToken(32);
  const client: ClientRecord = {
    ...metadata,
    clientId,
    description: "registered dynamically (RFC 7591)",
    accessTokenLifetime: undefined,
    refreshLimit: undefined,
    runAsUser: limits.runAsUser,
    enabled: true,
    secretDigest: secret === undefined ? undefined : secretDigest(server, secret),
    previousSecretDigest: undefined,
    previousSecretExpiresAt: undefined,
    registrationTokenDigest: registrationTokenDigest(server, registrationToken),
    createdAt: now,
    updatedAt: now,
  };
  // The use is counted first (atomically: of registrations racing for the last use, one wins), and given
  // back if the client cannot be created after all.
  if (!(await server.initialAccessTokens.use(iat.digest, clientId, now)))
    throw invalidToken("the initial access token is not valid");
  let created = false;
  try {
    created = await server.clientRepository.create(client);
  } finally {
    if (!created) await server.initialAccessTokens.release(iat.digest);
  }
  if (!created) throw clientMetadata("a client with this client_name and software_version exists");
  await server.initialAccessTokens.recordRegistration({
    clientId,
    tokenId: iat.id,
    scopes: iat.scopes,
    grantTypes: iat.grantTypes,
    registeredAt: now,
  });
  server.log.info(
    { event: "oauth_client_registered", clientId, initialAccessToken: iat.id },
    "client registered",
  );
  // The audit log links the client to the token that registered it (never the token's value).
  server.log.info(
    {
      event: "audit",
      actor: `initial-access-token:${iat.id}`,
      via: "oauth2/register",
      action: "oauth.client.register",
      target: clientId,
      initialAccessToken: iat.id,
      clientName: client.clientName,
      grantTypes: client.grantTypes,
      scopes: client.scopes,
      ...(client.runAsUser === undefined ? {} : { runAsUser: client.runAsUser }),
    },
    `audit: oauth.client.register ${clientId}`,
  );
  return json(
    {
      ...view(server, client),
      ...(secret === undefined ? {} : { client_secret: secret, client_secret_expires_at: 0 }),
      registration_access_token: registrationToken,
    },
    201,
  );
}

/** RFC 7592 §2.1–§2.3: read, update and delete a registration with its registration access token. */
export async function registrationManagementEndpoint(
  server: OAuthServer,
  request: OAuthRequest,
  clientId: string,
): Promise<OAuthResponse> {
  if (!["GET", "PUT", "DELETE"].includes(request.method)) throw methodNotAllowed(["GET", "PUT", "DELETE"]);
  requireSecure(request, await server.settings.get());
  const token = bearer(request, "the registration access token");
  const client = clientId.length <= 255 ? await server.clientRepository.get(clientId) : undefined;
  // §2.1: an unknown client and a wrong token look the same (401), so ids cannot be probed.
  if (!client?.registrationTokenDigest || !(await registrationTokenMatches(server, client, token)))
    throw invalidToken("the registration access token is not valid");
  if (request.method === "GET") return json(view(server, client));
  if (request.method === "DELETE") {
    try {
      await server.clientRepository.delete(client.clientId);
    } finally {
      // Whatever of it committed: the client's tokens are no longer active on any node.
      server.changes.publish({ kind: "client", key: client.clientId });
    }
    server.log.info({ event: "oauth_client_unregistered", clientId }, "client registration deleted");
    return { kind: "empty", status: 204, headers: { ...NO_STORE } };
  }
  const body = request.jsonBody as Record<string, unknown> | undefined;
  if (body?.client_id !== client.clientId) throw clientMetadata("client_id must be the registered client's");
  if (
    body.client_secret !== undefined &&
    (typeof body.client_secret !== "string" || !secretMatches(server, client, body.client_secret))
  )
    throw clientMetadata("client_secret does not match");
  // An update stays within the policy of the token that registered the client.
  const registration = await server.initialAccessTokens.registration(client.clientId);
  const metadata = await parseMetadata(
    server,
    request,
    updateLimits(registration, client.runAsUser),
    client.clientId,
  );
  if (metadata.type !== client.type)
    throw clientMetadata("token_endpoint_auth_method cannot change the client type");
  const updated: ClientRecord = { ...client, ...metadata, updatedAt: server.clock.now() };
  if (!(await server.clientRepository.update(updated)))
    throw clientMetadata("a client with this client_name and software_version exists");
  server.changes.publish({ kind: "client", key: client.clientId });
  return json(view(server, updated));
}

type Metadata = Pick<
  ClientRecord,
  | "clientName"
  | "version"
  | "type"
  | "redirectUris"
  | "grantTypes"
  | "scopes"
  | "metadata"
  | "tokenEndpointAuthMethod"
  | "tlsClientAuth"
  | "jwks"
  | "certificateBoundAccessTokens"
>;

const AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"];

/** What a registration may ask for: the policy of its initial access token. */
interface Limits {
  grants: GrantType[];
  /** undefined: any scope that exists. */
  scopes: string[] | undefined;
  runAsUser: string | undefined;
  /** Whether an administrator set these (the errors then say the token does not allow it). */
  policy: boolean;
}

function policyLimits(iat: InitialAccessTokenRecord): Limits {
  return {
    grants: allowedGrants(iat),
    scopes: iat.scopes,
    runAsUser: iat.runAsUser,
    policy: iat.grantTypes !== undefined || iat.scopes !== undefined,
  };
}

function updateLimits(registration: RegistrationRecord | undefined, runAsUser: string | undefined): Limits {
  return {
    grants: registration?.grantTypes ?? DEFAULT_GRANTS,
    scopes: registration?.scopes,
    runAsUser,
    policy: registration?.grantTypes !== undefined || registration?.scopes !== undefined,
  };
}

/** RFC 7591 §2: the metadata we understand; unknown fields are ignored (§2 "MUST ignore"). */
async function parseMetadata(
  server: OAuthServer,
  request: OAuthRequest,
  limits: Limits,
  exceptClientId?: string,
): Promise<Metadata> {
  const body = request.jsonBody;
  if (request.bodyType !== "json" || body === null || typeof body !== "object" || Array.isArray(body))
    throw clientMetadata("the request body must be a JSON object (application/json)");
  const m = body as Record<string, unknown>;
  const redirectUris = stringList(m, "redirect_uris") ?? [];
  const grantTypes = (stringList(m, "grant_types") ?? ["authorization_code"]) as GrantType[];
  const unsupported = grantTypes.filter((g) => !limits.grants.includes(g));
  if (unsupported.length > 0)
    throw clientMetadata(
      limits.policy
        ? `grant_types not allowed by the initial access token: ${unsupported.join(" ")}`
        : `grant_types not available by registration: ${unsupported.join(" ")}`,
    );
  const responseTypes =
    stringList(m, "response_types") ?? (grantTypes.includes("authorization_code") ? ["code"] : []);
  // §2.1: grant_types and response_types must agree.
  if (
    responseTypes.some((r) => r !== "code") ||
    responseTypes.includes("code") !== grantTypes.includes("authorization_code")
  )
    throw clientMetadata('response_types must be ["code"] exactly when grant_types has authorization_code');
  const method = text(m, "token_endpoint_auth_method") ?? "client_secret_basic";
  // RFC 8705 §2.1.1, §2.2.1: the certificate methods, when the HTTPS listener asks for certificates.
  const methods = server.mutualTls ? [...AUTH_METHODS, ...TLS_AUTH_METHODS] : AUTH_METHODS;
  if (!methods.includes(method))
    throw clientMetadata(`token_endpoint_auth_method ${method} is not supported`);
  const tls = tlsMetadata(m);
  const clientName = text(m, "client_name") ?? `client ${randomToken(6)}`;
  const version = text(m, "software_version") ?? "1.0";
  let scopes: string[];
  try {
    scopes = parseScope(text(m, "scope")) ?? limits.scopes ?? [];
  } catch {
    throw clientMetadata("scope is malformed");
  }
  const refused = limits.scopes ? scopes.filter((s) => !limits.scopes!.includes(s)) : [];
  if (refused.length > 0)
    throw clientMetadata(`scope not allowed by the initial access token: ${refused.join(" ")}`);
  const metadata: Metadata = {
    clientName,
    version,
    type: method === "none" ? "public" : "confidential",
    redirectUris,
    grantTypes,
    scopes,
    metadata: { token_endpoint_auth_method: method, response_types: responseTypes },
    tokenEndpointAuthMethod: isTlsAuthMethod(method) ? method : undefined,
    ...tls,
  };
  const problem = await clientProblem(server, { ...metadata, runAsUser: limits.runAsUser });
  if (problem) throw new OAuthError(problem.error, problem.message);
  if (await server.clientRepository.nameTaken(clientName, version, exceptClientId))
    throw clientMetadata("a client with this client_name and software_version exists");
  return metadata;
}

/** RFC 7591 §3.2.1 / RFC 7592 §3: the client information response. */
function view(server: OAuthServer, client: ClientRecord): Record<string, unknown> {
  return {
    client_id: client.clientId,
    client_id_issued_at: Math.floor(client.createdAt / 1000),
    client_name: client.clientName,
    software_version: client.version,
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    response_types: client.metadata?.response_types ?? ["code"],
    token_endpoint_auth_method:
      client.metadata?.token_endpoint_auth_method ??
      (client.type === "public" ? "none" : "client_secret_basic"),
    scope: client.scopes.join(" "),
    ...Object.fromEntries(
      SUBJECT_KINDS.filter((kind) => client.tlsClientAuth?.[kind] !== undefined).map((kind) => [
        RFC_NAMES[kind],
        client.tlsClientAuth![kind],
      ]),
    ),
    ...(client.jwks ? { jwks: client.jwks } : {}),
    ...(client.certificateBoundAccessTokens ? { tls_client_certificate_bound_access_tokens: true } : {}),
    registration_client_uri: `${server.issuer}/oauth2/register/${encodeURIComponent(client.clientId)}`,
  };
}

/** RFC 8705 §2.1.2 subject metadata, §2.2.2 `jwks` (inline only, no jwks_uri), §3.4 bound tokens. */
function tlsMetadata(
  m: Record<string, unknown>,
): Pick<Metadata, "tlsClientAuth" | "jwks" | "certificateBoundAccessTokens"> {
  const subject: TlsClientAuthSubject = {};
  for (const kind of SUBJECT_KINDS) {
    const value = text(m, RFC_NAMES[kind]);
    if (value !== undefined) subject[kind] = value;
  }
  let jwks;
  if (m.jwks !== undefined && m.jwks !== null)
    try {
      jwks = checkJwks(m.jwks);
    } catch (error) {
      throw clientMetadata(`jwks ${(error as Error).message}`);
    }
  if (m.jwks_uri !== undefined && m.jwks_uri !== null)
    throw clientMetadata("jwks_uri is not supported: register jwks inline");
  const bound = m.tls_client_certificate_bound_access_tokens;
  if (bound !== undefined && typeof bound !== "boolean")
    throw clientMetadata("tls_client_certificate_bound_access_tokens must be a boolean");
  return {
    tlsClientAuth: Object.keys(subject).length > 0 ? subject : undefined,
    jwks,
    certificateBoundAccessTokens: bound === true,
  };
}

function bearer(request: OAuthRequest, what: string): string {
  const match = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(request.authorization ?? "");
  if (!match || match[1]!.length > 512)
    throw new OAuthError("invalid_request", `${what} is required as a Bearer token`, 401, {
      "www-authenticate": `Bearer realm="${REALM}"`,
    });
  return match[1]!;
}

function invalidToken(description: string): OAuthError {
  return new OAuthError("invalid_token", description, 401, {
    "www-authenticate": `Bearer realm="${REALM}", error="invalid_token"`,
  });
}

const clientMetadata = (description: string) => new OAuthError("invalid_client_metadata", description);

function text(m: Record<string, unknown>, name: string): string | undefined {
  const value = m[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value.length > 1024) throw clientMetadata(`${name} must be a string`);
  return value === "" ? undefined : value;
}

function stringList(m: Record<string, unknown>, name: string): string[] | undefined {
  const value = m[name];
  if (value === undefined || value === null) return undefined;
  if (
    !Array.isArray(value) ||
    value.length > 100 ||
    !value.every((v) => typeof v === "string" && v.length <= 2000)
  )
    throw clientMetadata(`${name} must be an array of strings`);
  return [...new Set(value as string[])];
}
