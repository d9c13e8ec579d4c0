import { hmac, randomToken, safeEqual, sha256 } from "../../kernel/crypto.js";
import type { DerivedKeys } from "../context.js";

/**
 * The state of an authorization in progress, carried by the login and approval forms as a signed ticket
 * (HMAC with a key of its own), so no server-side session is needed and any node can continue it. Each
 * ticket is bound to the browser's `conduit_oauth` cookie, and each form carries a CSRF token derived from
 * that cookie (RFC 6749 §10.12, RFC 9700 §4.7).
 */
export interface Ticket {
  clientId: string;
  redirectUri: string;
  redirectUriGiven: boolean;
  scopes: string[];
  state?: string;
  codeChallenge?: string;
  /** Set once the resource owner has signed in. */
  username?: string;
  /** SHA-256 of the cookie nonce the ticket is bound to. */
  binding: string;
  expiresAt: number;
}

export const COOKIE = "conduit_oauth";
export const TICKET_LIFETIME_MS = 10 * 60_000;

export function signTicket(keys: DerivedKeys, ticket: Ticket): string {
  const payload = Buffer.from(JSON.stringify(ticket)).toString("base64url");
  return `${payload}.${hmac(keys.ticket, payload)}`;
}

/** The ticket if its signature is good, it has not expired, and it is bound to this cookie nonce. */
export function openTicket(
  keys: DerivedKeys,
  text: string,
  nonce: string | undefined,
  now: number,
): Ticket | undefined {
  const dot = text.lastIndexOf(".");
  if (dot <= 0 || nonce === undefined) return undefined;
  const payload = text.slice(0, dot);
  // During a server key rotation, a ticket signed by a node still on the previous key is good too.
  const signature = text.slice(dot + 1);
  if (
    !safeEqual(hmac(keys.ticket, payload), signature) &&
    !(keys.previous && safeEqual(hmac(keys.previous.ticket, payload), signature))
  )
    return undefined;
  let ticket: Ticket;
  try {
    ticket = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Ticket;
  } catch {
    return undefined;
  }
  if (typeof ticket.expiresAt !== "number" || ticket.expiresAt <= now) return undefined;
  if (!safeEqual(ticket.binding, sha256(nonce))) return undefined;
  return ticket;
}

export function csrfToken(keys: Pick<DerivedKeys, "csrf">, nonce: string): string {
  return hmac(keys.csrf, nonce);
}

export function csrfValid(keys: DerivedKeys, nonce: string | undefined, token: string | undefined): boolean {
  if (nonce === undefined || token === undefined) return false;
  return (
    safeEqual(csrfToken(keys, nonce), token) ||
    (keys.previous !== undefined && safeEqual(csrfToken(keys.previous, nonce), token))
  );
}

/** The cookie nonce of the request, or a new one with the Set-Cookie header to send. */
export function cookieNonce(
  cookieHeader: string | undefined,
  secure: boolean,
): { nonce: string; setCookie?: string } {
  const existing = readCookie(cookieHeader, COOKIE);
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return { nonce: existing };
  return newCookieNonce(secure);
}

/**
 * A fresh nonce and its Set-Cookie. Also minted at every sign-in, so a nonce planted in the browser before
 * (session fixation, RFC 9700 §4.7, OWASP) never carries a signed-in ticket.
 */
export function newCookieNonce(secure: boolean): { nonce: string; setCookie: string } {
  const nonce = randomToken(32);
  const attributes = ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=3600", ...(secure ? ["Secure"] : [])];
  return { nonce, setCookie: `${COOKIE}=${nonce}; ${attributes.join("; ")}` };
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
