import { request, type Dispatcher } from "undici";
import { readCapped, transportError } from "./upstream-error.js";

/** What a discovery document tells about an authorization server. */
export interface Discovered {
  issuer?: string;
  jwksUri?: string;
  introspectionEndpoint?: string;
}

export class DiscoveryError extends Error {
  override readonly name = "DiscoveryError";
}

const MAX_BODY = 256 * 1024;
const OPENID = "/.well-known/openid-configuration";
const OAUTH = "/.well-known/oauth-authorization-server";

/**
 * Reads an RFC 8414 authorization server metadata document (`/.well-known/oauth-authorization-server`) or
 * an OpenID Connect Discovery 1.0 document (`/.well-known/openid-configuration`) at `url`, within
 * `timeoutMs` and MAX_BODY bytes, through `dispatcher` when given (an Agent presenting the server's client
 * certificate, issue 9). Throws DiscoveryError with a reason fit for the administrator.
 */
export async function discover(url: string, timeoutMs: number, dispatcher?: Dispatcher): Promise<Discovered> {
  let text: string;
  try {
    const response = await request(url, {
      ...(dispatcher ? { dispatcher } : {}),
      method: "GET",
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    if (response.statusCode !== 200) {
      // Discard the body: destroying an unread undici body emits an 'error' nobody listens to (a crash).
      await response.body.dump().catch(() => undefined);
      throw new DiscoveryError(`it answered HTTP ${response.statusCode}`);
    }
    text = await readCapped(response.body, MAX_BODY, "the document");
  } catch (error) {
    if (error instanceof DiscoveryError) throw error;
    throw new DiscoveryError(`it could not be fetched (${transportError(error, "it", timeoutMs).message})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new DiscoveryError("it is not JSON");
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc))
    throw new DiscoveryError("it is not a JSON object");
  const fields = doc as Record<string, unknown>;
  // RFC 8414 §2: issuer is REQUIRED.
  if (typeof fields.issuer !== "string") throw new DiscoveryError("it has no issuer (RFC 8414 §2)");
  checkIssuer(url, fields.issuer);
  const found: Discovered = { issuer: fields.issuer };
  if (typeof fields.jwks_uri === "string") found.jwksUri = fields.jwks_uri;
  if (typeof fields.introspection_endpoint === "string")
    found.introspectionEndpoint = fields.introspection_endpoint;
  return found;
}

/**
 * RFC 8414 §3.3 and OpenID Connect Discovery §4.3: the `issuer` of the document MUST be the issuer from
 * which its well-known URL was made, else the document MUST NOT be used (it would let one server speak
 * for another). The URL is `<issuer>/.well-known/openid-configuration`, or RFC 8414 §3.1's
 * `<origin>/.well-known/oauth-authorization-server<issuer path>` (Okta also serves it appended to the
 * issuer). A URL of neither form names no issuer, so there is nothing to compare.
 */
function checkIssuer(url: string, issuer: string): void {
  const { origin, pathname } = new URL(url);
  const expected: string[] = [];
  if (pathname.endsWith(OPENID)) expected.push(origin + pathname.slice(0, -OPENID.length));
  if (pathname.endsWith(OAUTH)) expected.push(origin + pathname.slice(0, -OAUTH.length));
  if (pathname.startsWith(OAUTH)) expected.push(origin + pathname.slice(OAUTH.length));
  if (expected.length === 0) return;
  const given = issuer.endsWith("/") ? issuer.slice(0, -1) : issuer;
  if (!expected.includes(given))
    throw new DiscoveryError(
      `its issuer ${issuer} is not the one its URL names (${expected[0]}) (RFC 8414 §3.3)`,
    );
}
