import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ConduitError } from "../kernel/errors.js";
import type { Logger } from "../kernel/logger.js";
import { databaseFailure } from "../storage/failures.js";

/** The JSON body of every error outside the OAuth endpoints: a stable code and a human message. */
export interface ErrorBody {
  error: string;
  message: string;
  [detail: string]: unknown;
}

/** Fastify's own errors, by code, as the status and stable code we answer with. */
const FASTIFY_ERRORS: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, "payload_too_large"],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, "unsupported_media_type"],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, "invalid_content_length"],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, "invalid_json"],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, "invalid_json"],
  FST_ERR_VALIDATION: [400, "invalid_request"],
  FST_ERR_BAD_URL: [400, "invalid_path"],
  FST_ERR_MAX_PARAM_LENGTH: [414, "path_too_long"],
};

/** A database that cannot be reached is a server Conduit depends on (503); a lost race on a write is a 409. */
const DATABASE_FAILURES = {
  unavailable: {
    status: 503,
    body: { error: "unavailable", message: "the database is unavailable; try again later" },
    headers: { "retry-after": "5" },
  },
  conflict: {
    status: 409,
    body: { error: "conflict", message: "a concurrent change conflicts with this request; try again" },
    headers: {},
  },
} as const;

/** Maps any error to a status and a body that is safe to show; detail of 5xx errors stays in the log. */
export function toErrorResponse(error: unknown): {
  status: number;
  body: ErrorBody;
  headers: Record<string, string | string[]>;
} {
  if (error instanceof ConduitError) {
    const body: ErrorBody = error.expose
      ? { error: error.code, message: error.message, ...error.details }
      : { error: error.code, message: "internal server error" };
    return { status: error.status, body, headers: error.headers };
  }
  const failure = databaseFailure(error);
  if (failure) return DATABASE_FAILURES[failure];
  const fastifyError = error as Partial<FastifyError>;
  const known = fastifyError.code ? FASTIFY_ERRORS[fastifyError.code] : undefined;
  if (known)
    return { status: known[0], body: { error: known[1], message: fastifyError.message ?? "" }, headers: {} };
  if (error instanceof SyntaxError && fastifyError.statusCode === 400)
    return { status: 400, body: { error: "invalid_json", message: error.message }, headers: {} };
  const status = fastifyError.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500)
    return {
      status,
      body: { error: "bad_request", message: fastifyError.message ?? "bad request" },
      headers: {},
    };
  return { status: 500, body: { error: "internal_error", message: "internal server error" }, headers: {} };
}

export function sendError(
  log: Logger,
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
): FastifyReply {
  const { status, body, headers } = errorAnswer(log, error, request.routeOptions.url);
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  return reply.code(status).type("application/json; charset=utf-8").send(body);
}

/** The answer to an error (toErrorResponse), logged as every route logs it: 5xx as errors, 503s as warnings. */
export function errorAnswer(
  log: Logger,
  error: unknown,
  route: string | undefined,
): ReturnType<typeof toErrorResponse> {
  const answer = toErrorResponse(error);
  if (answer.status >= 500 && answer.status !== 503) log.error({ err: error, url: route }, "request failed");
  else if (answer.status === 503 && !(error instanceof ConduitError))
    log.warn(
      { event: "database_unavailable", err: { message: (error as Error).message } },
      "database unavailable",
    );
  return answer;
}

/** What Node's HTTP parser refuses before any route sees it, by error code: status, stable code, message. */
const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, "request_timeout", "the request took too long to arrive"],
  HPE_HEADER_OVERFLOW: [431, "headers_too_large", "the request headers are too large"],
};

/**
 * A request Node's HTTP parser cannot read (a NUL in the path, a bad chunk, conflicting lengths):
 * the answer is our JSON error too, then the connection is closed, as Node and Fastify do by default.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, code, message] = CLIENT_ERRORS[error.code ?? ""] ?? [
    400,
    "bad_request",
    "the request is not valid HTTP",
  ];
  const body = JSON.stringify({ error: code, message });
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy(error);
}
