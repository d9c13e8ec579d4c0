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
