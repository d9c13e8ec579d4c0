import { LRUCache } from "lru-cache";
import type { PeerCertificate } from "../kernel/certificates.js";
import { hmac, safeEqual } from "../kernel/crypto.js";
import { REALM } from "../security/basic.js";
import type { ClientRecord, DigestField } from "./clients.js";
import type { DerivedKeys, OAuthServer } from "./context.js";
import { invalidClient, invalidRequest } from "./errors.js";
import { isTlsAuthMethod, selfSignedMatches, tlsClientAuthMatches, type TlsAuthMethod } from "./mtls.js";
import { param } from "./params.js";
import type { OAuthRequest, Params } from "./request.js";

export type ClientAuthMethod = "client_secret_basic" | "client_secret_post" | "none" | TlsAuthMethod;

export interface AuthenticatedClient {
  client: ClientRecord;
  method: ClientAuthMethod;
  /** The certificate that authenticated the client (RFC 8705 methods only). */
  certificate?: PeerCertificate;
}

const BASIC_CHALLENGE = `Basic realm="${REALM}"`;

/**
 * The keyed digest a client secret is stored as, marked with the id of the server key it is under
 * (`<kid>:<digest>`), so a key rotation can verify it with the right key and tell which are left.
 * Digests written before key ids have no mark (src/cli/key-rotate.ts).
 */
export function secretDigest(server: Pick<OAuthServer, "keys">, secret: string): string {
  return `${server.keys.kid}:${hmac(server.keys.clientSecret, secret)}`;
}

/** The keyed digest an RFC 7592 registration access token is stored as, marked like a secret's. */
export function registrationTokenDigest(server: Pick<OAuthServer, "keys">, token: string): string {
  return `${server.keys.kid}:${hmac(server.keys.registrationToken, token)}`;
}

/** RFC 6749 Appendix B: the client id and secret in Basic are form-encoded before base64. */
function formDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

function parseBasic(header: string): { id: string; secret: string } | undefined {
  const match = /^basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  const id = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  if (id === undefined || secret === undefined || id === "") return undefined;
  // No client id or secret holds U+0000 (and PostgreSQL cannot compare one).
  return id.includes("\0") || secret.includes("\0") ? undefined : { id, secret };
}

/** Clients already told (in the log) that they send their credentials as Bearer: once each per process. */
const toldBearer = new LRUCache<string, true>({ max: 10_000 });

/**
 * Whether a `Bearer` value is really `base64(client_id:client_secret)` of a known client: the mistake the
 * Integration Server article teaches (Okta, like RFC 7009, wants Basic). It is still refused; the answer
 * says why, and the log says it once per client. Neither ever holds the secret.
 */
async function bearerHoldsClientCredentials(
  server: OAuthServer,
  header: string,
  ip: string,
): Promise<boolean> {
  const match = /^bearer +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!match) return false;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0 || colon > 255) return false;
  const id = formDecode(decoded.slice(0, colon));
  if (id === undefined || id.includes("\0") || !(await server.clients.get(id))) return false;
  if (!toldBearer.has(id)) {
    toldBearer.set(id, true);
    server.log.warn(
      { event: "oauth_client_credentials_as_bearer", clientId: id, ip },
      "a client sent its id and secret as a Bearer value; they go in Authorization: Basic",
    );
  }
  return true;
}

/**
 * Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3):
 * client_secret_basic, client_secret_post, or none for public clients; one method only (§2.3 "MUST NOT
 * use more than one"). Failures are invalid_client, 401, with a Basic challenge when Basic was tried (§5.2).
 * RFC 8705 §2: a client registered for tls_client_auth or self_signed_tls_client_auth sends its client_id
 * and authenticates with the certificate of the TLS connection, never with a secret.
 */
export async function authenticateClient(
  server: OAuthServer,
  request: OAuthRequest,
  params: Params,
  options: { allowPublic: boolean },
): Promise<AuthenticatedClient> {
  const header = request.authorization?.trim();
  const bodyId = param(params, "client_id", { max: 255 });
  const bodySecret = param(params, "client_secret", { max: 512 });
  let id: string | undefined;
  let secret: string | undefined;
  let digest: string | undefined;
  let method: ClientAuthMethod;
  if (header) {
    // The same keep-alive connection sending the same header again: the digest of its secret is known.
    const remembered = request.connection && presented.get(request.connection);
    const basic = remembered?.header === header ? remembered : parseBasic(header);
    if (!basic) {
      if (await bearerHoldsClientCredentials(server, header, request.ip))
        throw invalidClient(
          "client credentials go in 'Authorization: Basic <base64 of client_id:client_secret>', not Bearer " +
            "(RFC 6749 §2.3.1): this Bearer value is the client_id:client_secret of a registered client",
          BASIC_CHALLENGE,
        );
      throw invalidClient("the Authorization header is not valid client_secret_basic", BASIC_CHALLENGE);
    }
    if (bodySecret !== undefined) throw invalidRequest("use one client authentication method only");
    if (bodyId !== undefined && bodyId !== basic.id)
      throw invalidRequest("client_id differs from the authenticated client");
    id = basic.id;
    if ("digest" in basic) digest = basic.digest;
    else {
      secret = basic.secret;
      digest = secretDigest(server, secret);
      if (request.connection) presented.set(request.connection, { header, id, digest });
    }
    method = "client_secret_basic";
  } else if (bodySecret !== undefined) {
    if (bodyId === undefined) throw invalidClient("client_id is required with client_secret");
    [id, secret, method] = [bodyId, bodySecret, "client_secret_post"];
  } else {
    if (bodyId === undefined) throw invalidClient("client authentication is required");
    [id, method] = [bodyId, "none"];
  }
  const challenge = method === "client_secret_basic" ? BASIC_CHALLENGE : undefined;
  const client = await server.clients.get(id);
  if (!client) throw invalidClient("client authentication failed", challenge);
  if (!client.enabled) throw invalidClient("the client is disabled", challenge);
  if (isTlsAuthMethod(client.tokenEndpointAuthMethod)) {
    if (method !== "none") throw invalidClient("this client authenticates with its certificate", challenge);
    return { client, ...certificateAuthentication(server, client, client.tokenEndpointAuthMethod, request) };
  }
  if (client.type === "public") {
    if (method !== "none") throw invalidClient("a public client has no secret", challenge);
    if (!options.allowPublic) throw invalidClient("public clients may not use this endpoint");
    return { client, method };
  }
  digest ??= secret === undefined ? undefined : secretDigest(server, secret);
  // A remembered connection kept only the digest: a digest under the previous key needs the secret again.
  const secretOf = () => secret ?? (header ? parseBasic(header)?.secret : undefined);
  const match = digest === undefined ? undefined : digestMatches(server, client, digest, secretOf);
  if (!match) throw invalidClient("client authentication failed", challenge);
  if (match.underPrevious) await redigest(server, client.clientId, match, secretOf()!);
  return { client, method };
}

/**
 * RFC 8705 §2.1 (tls_client_auth: chained to CONDUIT_TLS_CA, subject DN or SAN as registered) and §2.2
 * (self_signed_tls_client_auth: a certificate the client registered, by SHA-256 thumbprint). Only when the
 * HTTPS listener asks for client certificates.
 */
function certificateAuthentication(
  server: OAuthServer,
  client: ClientRecord,
  method: TlsAuthMethod,
  request: OAuthRequest,
): { method: TlsAuthMethod; certificate: PeerCertificate } {
  const certificate = request.clientCertificate;
  if (!server.mutualTls || !certificate)
    throw invalidClient("a client certificate is required (RFC 8705: mutual TLS on the HTTPS port)");
  const matches =
    method === "tls_client_auth"
      ? client.tlsClientAuth !== undefined && tlsClientAuthMatches(certificate, client.tlsClientAuth)
      : client.jwks !== undefined && selfSignedMatches(certificate, client.jwks);
  if (!matches) {
    server.log.info(
      {
        event: "oauth_client_certificate_refused",
        clientId: client.clientId,
        method,
        chained: certificate.chained,
      },
      "client certificate does not match the registration",
    );
    throw invalidClient("client authentication failed");
  }
  return { method, certificate };
}

/**
 * The keyed digest of the secret each connection presented in its Basic header, so a keep-alive client
 * is not hashed again on every request. Only the digest is kept, and only while the connection lives;
 * it is still compared with the client's current digests (and enabled flag) every time.
 */
const presented = new WeakMap<object, { header: string; id: string; digest: string }>();

/** Constant-time check against the current secret and, inside its overlap window, the previous one. */
export function secretMatches(server: OAuthServer, client: ClientRecord, secret: string): boolean {
  return digestMatches(server, client, secretDigest(server, secret), () => secret) !== undefined;
}

/** RFC 7592 §3: the registration access token of a client (re-digested if under the previous key). */
export async function registrationTokenMatches(
  server: OAuthServer,
  client: ClientRecord,
  token: string,
): Promise<boolean> {
  const stored = client.registrationTokenDigest;
  if (stored === undefined) return false;
  const digest = registrationTokenDigest(server, token);
  const under = compareDigest(server.keys, "registrationToken", stored, digest, () => token);
  if (under === "previous")
    await redigest(server, client.clientId, { field: "registration_token_digest", stored }, token);
  return under !== false;
}

interface DigestMatch {
  field: DigestField;
  stored: string;
  /** Under the previous server key (a rotation is in progress): re-digest it under the current one. */
  underPrevious?: boolean;
}

function digestMatches(
  server: OAuthServer,
  client: ClientRecord,
  digest: string,
  secretOf: () => string | undefined,
): DigestMatch | undefined {
  const candidates: [DigestField, string | undefined][] = [["secret_digest", client.secretDigest]];
  if (client.previousSecretExpiresAt !== undefined && client.previousSecretExpiresAt > server.clock.now())
    candidates.push(["previous_secret_digest", client.previousSecretDigest]);
  for (const [field, stored] of candidates) {
    if (stored === undefined) continue;
    const under = compareDigest(server.keys, "clientSecret", stored, digest, secretOf);
    if (under) return { field, stored, underPrevious: under === "previous" };
  }
  return undefined;
}

/**
 * Whether a presented value matches a stored digest, and under which key. `digest` is the value's digest
 * under the current key, which is all the usual case needs; a digest under the previous key
 * (CONDUIT_SECRET_KEY_PREVIOUS) is computed from the value only then. An unmarked digest (written before
 * key ids) is under the previous key during a rotation, else under the current one.
 */
function compareDigest(
  keys: DerivedKeys,
  purpose: "clientSecret" | "registrationToken",
  stored: string,
  digest: string,
  valueOf: () => string | undefined,
): "current" | "previous" | false {
  const colon = stored.indexOf(":");
  const kid = colon < 0 ? undefined : stored.slice(0, colon);
  if (kid === keys.kid) return safeEqual(digest, stored) ? "current" : false;
  const bare = digest.slice(keys.kid.length + 1);
  if (kid === undefined && safeEqual(bare, stored)) return "current";
  const previous = keys.previous;
  if (!previous || (kid !== undefined && kid !== previous.kid)) return false;
  const value = valueOf();
  if (value === undefined) return false;
  const raw = hmac(previous[purpose], value);
  return safeEqual(kid === undefined ? raw : `${kid}:${raw}`, stored) ? "previous" : false;
}

/**
 * Lazy re-keying during a server key rotation: a secret or token that just proved itself under the
 * previous key is stored again as its digest under the current key (only once `conduit key rotate` has
 * run, so nodes still on the old key alone keep verifying it). Never fails the request it rides on.
 */
async function redigest(server: OAuthServer, clientId: string, match: DigestMatch, value: string) {
  try {
    if (!(await server.keys.redigest())) return;
    const to =
      match.field === "registration_token_digest"
        ? registrationTokenDigest(server, value)
        : secretDigest(server, value);
    if (!(await server.clientRepository.replaceDigest(clientId, match.field, match.stored, to))) return;
    server.changes.publish({ kind: "client", key: clientId });
    server.log.info(
      { event: "oauth_client_redigested", clientId, field: match.field, kid: server.keys.kid },
      "client digest moved to the current server key",
    );
  } catch (error) {
    server.log.warn(
      { event: "oauth_client_redigest_failed", clientId, err: (error as Error).message },
      "could not re-digest under the current server key; it is tried again on next use",
    );
  }
}
