/** Why an external authorization server could not give an answer; each becomes a 503 for the caller. */
export type UpstreamFailure =
  | "unreachable"
  | "timeout"
  | "server_error"
  | "unexpected_status"
  | "unauthorized"
  | "malformed"
  | "jwks_unavailable"
  | "circuit_open";

export class UpstreamError extends Error {
  constructor(
    readonly reason: UpstreamFailure,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = "UpstreamError";
  }
}

/**
 * Reads an upstream answer's body up to `max` bytes; a longer one is abandoned (the connection dropped)
 * as soon as it passes the limit, so a huge or endless document costs neither memory nor time.
 */
export async function readCapped(
  body: AsyncIterable<Buffer> & { destroy?: (error?: Error) => unknown },
  max: number,
  what: string,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy?.();
      throw new UpstreamError("malformed", `${what} is too large (over ${max} bytes)`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A failed request (undici): a timeout (connect, headers, body or overall) or an unreachable server. */
export function transportError(error: unknown, what: string, timeoutMs: number): UpstreamError {
  if (error instanceof UpstreamError) return error;
  const name = (error as { name?: string }).name ?? "";
  const code = (error as { code?: string }).code ?? "";
  if (name === "TimeoutError" || name === "AbortError" || code.includes("TIMEOUT"))
    return new UpstreamError("timeout", `no answer from ${what} within ${timeoutMs} ms`, { cause: error });
  return new UpstreamError("unreachable", `${what} is unreachable (${code || name})`, { cause: error });
}
