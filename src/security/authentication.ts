import type { PeerCertificate } from "../kernel/certificates.js";
import { UnauthorizedError } from "../kernel/errors.js";
import type { Principal } from "./principal.js";

/** What an authenticator may look at; nothing else of the HTTP request reaches it. */
export interface AuthRequest {
  authorization: string | undefined;
  ip: string;
  /**
   * The client connection (an opaque object, the socket), so that credentials a keep-alive connection
   * has already proved can be recognised on its next requests without hashing them again.
   */
  connection?: object;
  /**
   * What the console's session authenticator (src/security/sessions.ts) looks at; absent or undefined for
   * other callers. `cookie` is the Cookie header, `csrfToken` the X-CSRF-Token header, `origin` and
   * `fetchSite` the Origin and Sec-Fetch-Site headers, `host` the Host header and `tls` whether the
   * connection is HTTPS (together they make this server's own origin).
   */
  cookie?: string | undefined;
  csrfToken?: string | undefined;
  origin?: string | undefined;
  fetchSite?: string | undefined;
  host?: string | undefined;
  tls?: boolean;
  /** The client certificate of the TLS connection (RFC 8705: certificate-bound bearer tokens). */
  clientCertificate?: PeerCertificate | undefined;
}

/**
 * One way to prove who you are. `authenticate` answers null when the request carries no credentials of
 * this kind, a principal when they are good, and throws a 401 ConduitError when they are present but bad.
 */
export interface Authenticator {
  readonly scheme: string;
  /**
   * The WWW-Authenticate challenge sent when a request has no credentials at all; undefined for a scheme
   * that is never offered to such a request (the console session: a browser would show its own dialog).
   */
  readonly challenge: string | undefined;
  authenticate(request: AuthRequest): Promise<Principal | null>;
  /**
   * Optional fast path: the principal when it can be decided from memory alone (credentials verified
   * before and still current), else undefined and `authenticate` decides.
   */
  cached?(request: AuthRequest): Principal | undefined;
}

/** The authentication chain shared by /invoke, the admin API and the console. */
export class AuthenticationChain {
  private readonly authenticators: Authenticator[] = [];

  add(authenticator: Authenticator): this {
    if (this.authenticators.some((a) => a.scheme === authenticator.scheme))
      throw new TypeError(`authenticator ${authenticator.scheme} is registered twice`);
    this.authenticators.push(authenticator);
    return this;
  }

  /** The principal when an authenticator can decide from memory alone, without I/O; else undefined. */
  cached(request: AuthRequest): Principal | undefined {
    for (const authenticator of this.authenticators) {
      const principal = authenticator.cached?.(request);
      if (principal) return principal;
    }
    return undefined;
  }

  /** The principal, or null for an anonymous request. */
  async authenticate(request: AuthRequest): Promise<Principal | null> {
    for (const authenticator of this.authenticators) {
      const principal = await authenticator.authenticate(request);
      if (principal) return principal;
    }
    if (request.authorization !== undefined && request.authorization.trim() !== "")
      throw new UnauthorizedError("unsupported authorization scheme", this.challenges());
    return null;
  }

  /** Challenges for a request that must authenticate (RFC 9110 §11.6.1). */
  challenges(): string[] {
    return this.authenticators.flatMap((a) => (a.challenge === undefined ? [] : [a.challenge]));
  }

  missingCredentials(message = "authentication required"): UnauthorizedError {
    return new UnauthorizedError(message, this.challenges());
  }
}

/** Splits `Scheme credentials`; the scheme is case-insensitive (RFC 9110 §11.1). */
export function parseAuthorization(
  header: string | undefined,
): { scheme: string; value: string } | undefined {
  if (!header) return undefined;
  const match = /^([A-Za-z][\w!#$%&'*+.^`|~-]*) +(\S.*)$/.exec(header.trim());
  return match ? { scheme: match[1]!.toLowerCase(), value: match[2]!.trim() } : undefined;
}
