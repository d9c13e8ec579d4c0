/**
 * The error tree of Conduit outside the OAuth endpoints (those have their own, see src/oauth/errors.ts).
 * Every error carries a stable machine-readable `code` and an HTTP `status`; callers switch on `code`.
 * Anything with status >= 500 is rendered to clients as a generic message: the detail goes to the log only.
 */
export class ConduitError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra response headers, such as a WWW-Authenticate challenge or Retry-After. */
  readonly headers: Record<string, string | string[]>;
  /** Extra JSON fields that are safe to show the caller. */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    options: {
      headers?: Record<string, string | string[]>;
      details?: Record<string, unknown>;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
    this.details = options.details;
  }

  /** Whether the message may be shown to the caller as it is. */
  get expose(): boolean {
    return this.status < 500 || this.status === 503;
  }
}

export class BadRequestError extends ConduitError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(400, code, message, details ? { details } : {});
  }
}

export class UnauthorizedError extends ConduitError {
  constructor(message: string, challenge: string | string[], code = "unauthorized") {
    super(401, code, message, { headers: { "www-authenticate": challenge } });
  }
}

export class ForbiddenError extends ConduitError {
  constructor(message: string, code = "forbidden", headers: Record<string, string | string[]> = {}) {
    super(403, code, message, { headers });
  }
}

export class NotFoundError extends ConduitError {
  constructor(code: string, message: string) {
    super(404, code, message);
  }
}

export class ConflictError extends ConduitError {
  constructor(code: string, message: string) {
    super(409, code, message);
  }
}

export class ServiceFailureError extends ConduitError {
  constructor(message: string, cause?: unknown) {
    super(500, "service_failure", message, { cause });
  }
  override get expose(): boolean {
    // A service failure message is written by the service for its caller (IS shows it too); no stack.
    return true;
  }
}

export class UnavailableError extends ConduitError {
  constructor(message: string, retryAfterSeconds = 5) {
    super(503, "unavailable", message, { headers: { "retry-after": String(retryAfterSeconds) } });
  }
}

/** A wrong argument or a broken invariant inside the program: a bug, never a caller's mistake. */
export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigurationError";
  }
}
