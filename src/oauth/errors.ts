/**
 * The one OAuth error type (RFC 6749 §5.2, §4.1.2.1; RFC 6750 §3; RFC 7591 §3.2.2), rendered in one place
 * as JSON with `Cache-Control: no-store`. Anything that is not an OAuthError becomes `server_error`, its
 * detail kept for the log.
 */
export class OAuthError extends Error {
  readonly error: string;
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(error: string, description: string, status = 400, headers: Record<string, string> = {}) {
    super(description);
    this.name = "OAuthError";
    this.error = error;
    this.status = status;
    this.headers = headers;
  }

  body(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.message };
  }
}

export const invalidRequest = (description: string, status = 400) =>
  new OAuthError("invalid_request", description, status);
export const invalidGrant = (description: string) => new OAuthError("invalid_grant", description);
export const invalidScope = (description: string) => new OAuthError("invalid_scope", description);
export const unauthorizedClient = (description: string) => new OAuthError("unauthorized_client", description);
export const unsupportedGrantType = (description: string) =>
  new OAuthError("unsupported_grant_type", description);

/** RFC 6749 §5.2: invalid_client is 401, with a challenge of the scheme the client tried. */
export function invalidClient(description: string, challenge?: string): OAuthError {
  return new OAuthError(
    "invalid_client",
    description,
    401,
    challenge ? { "www-authenticate": challenge } : {},
  );
}

/** Methods an endpoint does not serve: 405 with Allow, still an OAuth error body. */
export function methodNotAllowed(allow: string[]): OAuthError {
  return new OAuthError("invalid_request", `use ${allow.join(" or ")}`, 405, { allow: allow.join(", ") });
}
