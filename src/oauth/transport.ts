import { invalidRequest } from "./errors.js";
import type { OAuthRequest } from "./request.js";
import type { OAuthSettings } from "./settings.js";

/**
 * Whether a request may be served under `requireHttps` (RFC 6749 §3.1, §3.2 require TLS; RFC 9700 §2).
 * Loopback peers are exempt so local use works; behind a proxy, X-Forwarded-Proto decides when trusted.
 */
export function isSecure(request: OAuthRequest, settings: OAuthSettings): boolean {
  if (request.tls) return true;
  if (settings.trustForwardedProto && request.forwardedProto !== undefined)
    return request.forwardedProto.split(",")[0]?.trim().toLowerCase() === "https";
  return request.loopback;
}

export function requireSecure(request: OAuthRequest, settings: OAuthSettings): void {
  if (settings.requireHttps && !isSecure(request, settings))
    throw invalidRequest("HTTPS is required (the requireHttps setting is on)");
}

export function isLoopbackAddress(ip: string): boolean {
  return ip === "::1" || ip.startsWith("127.") || ip.startsWith("::ffff:127.");
}
