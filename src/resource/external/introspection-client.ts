import { Pool } from "undici";
import type { Claims } from "./claims.js";
import type { TlsOptions } from "./tls.js";
import { readCapped, transportError, UpstreamError } from "./upstream-error.js";

export interface IntrospectionTarget {
  url: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
  /** Mutual TLS: the client certificate and key to present, the CAs to trust. */
  tls?: TlsOptions;
}

/** Largest introspection answer read; anything longer is malformed. */
const MAX_BODY = 64 * 1024;
const ENDPOINT = "the introspection endpoint";

/**
 * Calls one server's RFC 7662 introspection endpoint over a pooled keep-alive connection (undici Pool),
 * every call bounded by `timeoutMs` (connect, headers, body and overall), so a slow server never hangs a
 * request. Throws UpstreamError for anything that is not a 200 JSON object with a boolean `active`.
 */
export class IntrospectionClient {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly authorization: string;

  constructor(private readonly target: IntrospectionTarget) {
    const url = new URL(target.url);
    this.path = url.pathname + url.search;
    this.pool = new Pool(url.origin, {
      connections: 32,
      connectTimeout: target.timeoutMs,
      headersTimeout: target.timeoutMs,
      bodyTimeout: target.timeoutMs,
      keepAliveTimeout: 30_000,
      ...(target.tls ? { connect: { ...target.tls } } : {}),
    });
    // RFC 6749 §2.3.1: client_id and client_secret are form-encoded, then sent with HTTP Basic.
    const credentials = `${formEncode(target.clientId)}:${formEncode(target.clientSecret)}`;
    this.authorization = `Basic ${Buffer.from(credentials).toString("base64")}`;
  }

  /**
   * RFC 7662 §2.1: POST application/x-www-form-urlencoded `token` and `token_type_hint=access_token`,
   * authenticated as the protected resource. RFC 7662 §2.2: the answer is JSON with a boolean `active`.
   */
  async introspect(token: string): Promise<Claims> {
    const body = new URLSearchParams({ token, token_type_hint: "access_token" }).toString();
    let response;
    try {
      response = await this.pool.request({
        path: this.path,
        method: "POST",
        headers: {
          authorization: this.authorization,
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body,
        signal: AbortSignal.timeout(this.target.timeoutMs),
      });
    } catch (error) {
      throw transportError(error, ENDPOINT, this.target.timeoutMs);
    }
    const { statusCode } = response;
    let text: string;
    try {
      text = await readCapped(response.body, MAX_BODY, "the introspection answer");
    } catch (error) {
      throw transportError(error, ENDPOINT, this.target.timeoutMs);
    }
    if (statusCode === 401 || statusCode === 403)
      throw new UpstreamError(
        "unauthorized",
        `the introspection endpoint refused our credentials (HTTP ${statusCode}): check clientId and clientSecret`,
      );
    if (statusCode >= 500)
      throw new UpstreamError("server_error", `the introspection endpoint answered HTTP ${statusCode}`);
    if (statusCode !== 200)
      throw new UpstreamError("unexpected_status", `the introspection endpoint answered HTTP ${statusCode}`);
    return parseAnswer(text);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function parseAnswer(text: string): Claims {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UpstreamError("malformed", "the introspection answer is not JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new UpstreamError("malformed", "the introspection answer is not a JSON object");
  if (typeof (parsed as Claims).active !== "boolean")
    throw new UpstreamError("malformed", "the introspection answer has no boolean active (RFC 7662 §2.2)");
  return parsed as Claims;
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}
