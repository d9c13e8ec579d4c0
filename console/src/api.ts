/**
 * The console's only way to the server: the admin API (and /invoke) with the session cookie and the
 * session's CSRF token in `X-CSRF-Token` on every request. Errors become ApiError with the API's stable
 * code, its message in words and, when the API names one, the field at fault.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** The whole error body, for details some answers carry (a flow's `problems`, a package's `errors`). */
    readonly body?: Record<string, unknown>,
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;
let onSignedOut: (() => void) | undefined;

/** Set at sign-in (and when the page finds a live session); cleared at sign-out. */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when the server answers 401 to a console request: the session ended (idle, expired, signed out). */
export function whenSignedOut(fn: () => void): void {
  onSignedOut = fn;
}

export async function request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (csrfToken) headers["x-csrf-token"] = csrfToken;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new ApiError(0, "network_error", "The server cannot be reached. Is Conduit running?");
  }
  const text = await response.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!response.ok) {
    const err = (data ?? {}) as {
      error?: string;
      message?: string;
      error_description?: string;
      field?: string;
    };
    if (response.status === 401 && path !== "/admin/api/session" && onSignedOut) onSignedOut();
    throw new ApiError(
      response.status,
      err.error ?? `http_${response.status}`,
      err.message ??
        err.error_description ??
        `The server answered ${response.status} ${response.statusText}.`,
      err.field,
      data !== null && typeof data === "object" ? (data as Record<string, unknown>) : undefined,
    );
  }
  return data as T;
}

export const api = {
  get: <T = unknown>(path: string) => request<T>("GET", path),
  post: <T = unknown>(path: string, body: unknown = {}) => request<T>("POST", path, body),
  put: <T = unknown>(path: string, body: unknown) => request<T>("PUT", path, body),
  del: (path: string) => request<void>("DELETE", path),
};

/** A path segment: names of services, clients, users… may hold characters that need escaping. */
export const seg = (value: string) => encodeURIComponent(value);
