import type { PeerCertificate } from "../kernel/certificates.js";

/**
 * What the endpoints see of an HTTP request, and what they answer. The endpoints do not know Fastify:
 * `src/http/oauth-endpoints.ts` translates, so the same handlers serve `/oauth2/*` and the IS names
 * `/invoke/pub.oauth/*`.
 */
export type Params = Record<string, string | string[]>;

export interface OAuthRequest {
  method: string;
  /** The path the request came on; forms post back to it. */
  path: string;
  /** Query parameters, a repeated name keeping every value. */
  query: Params;
  /** Body parameters (a form, or a JSON object of strings on the IS names). */
  body: Params;
  /** The parsed JSON body, when one was sent as application/json (dynamic registration reads it). */
  jsonBody: unknown;
  /** How the body was sent: `none`, `form`, `json`, or anything else (`other`). */
  bodyType: "none" | "form" | "json" | "other";
  /** Whether query and body parameters are read together (the IS names), or only the body. */
  mergeQuery: boolean;
  authorization: string | undefined;
  cookie: string | undefined;
  accept: string | undefined;
  ip: string;
  /** Whether the connection itself is TLS. */
  tls: boolean;
  /** X-Forwarded-Proto as sent (only believed when the settings say so). */
  forwardedProto: string | undefined;
  /** Whether the peer is on a loopback address. */
  loopback: boolean;
  /** The client connection (an opaque object): what a keep-alive connection proved is remembered on it. */
  connection?: object;
  /**
   * The client certificate of the TLS connection (RFC 8705), when the HTTPS listener asked for one
   * (CONDUIT_TLS_CA) and the client sent it; `chained` says whether it verified against that CA.
   */
  clientCertificate?: PeerCertificate | undefined;
}

export type OAuthResponse =
  | { kind: "json"; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: "html"; status: number; html: string; headers?: Record<string, string> }
  | { kind: "redirect"; status: 302 | 303; location: string; headers?: Record<string, string> }
  | { kind: "empty"; status: number; headers?: Record<string, string> };

/** RFC 6749 §5.1: token responses, and anything carrying credentials, are never cached. */
export const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" } as const;

export function json(body: unknown, status = 200): OAuthResponse {
  return { kind: "json", status, body, headers: { ...NO_STORE } };
}
