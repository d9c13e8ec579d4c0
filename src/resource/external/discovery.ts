import { request } from "undici";

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

/**
 * Reads an RFC 8414 authorization server metadata document (`/.well-known/oauth-authorization-server`) or
 * an OpenID Connect Discovery 1.0 document (`/.well-known/openid-configuration`) at `url`, within
 * `timeoutMs`. Throws DiscoveryError with a reason fit for the administrator.
 */
export async function discover(url: string, timeoutMs: number): Promise<Discovered> {
  let text: string;
  try {
    const response = await request(url, {
      method: "GET",
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    text = await response.body.text();
    if (response.statusCode !== 200) throw new DiscoveryError(`it answered HTTP ${response.statusCode}`);
  } catch (error) {
    if (error instanceof DiscoveryError) throw error;
    throw new DiscoveryError(`it could not be fetched (${(error as Error).message})`);
  }
  if (text.length > MAX_BODY) throw new DiscoveryError("the document is too large");
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
  const found: Discovered = { issuer: fields.issuer };
  if (typeof fields.jwks_uri === "string") found.jwksUri = fields.jwks_uri;
  if (typeof fields.introspection_endpoint === "string")
    found.introspectionEndpoint = fields.introspection_endpoint;
  return found;
}
