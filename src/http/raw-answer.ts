import type { ServerResponse } from "node:http";

/** An answer a fast path writes straight to Node's response (src/http/fast-invoke.ts, fast-oauth.ts). */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

/**
 * Writes an answer with its Content-Length. If Node refuses it (a header value it will not send), writes
 * `failure(error)` instead, as Fastify's error handler would; if the headers are already out, or even
 * that answer cannot be said, ends the connection. Nothing escapes: the fast paths write from callbacks.
 * Answers the status sent, or undefined when the connection was ended instead.
 */
export function writeAnswer(
  response: ServerResponse,
  answer: RawAnswer,
  failure: (error: unknown) => RawAnswer,
): number | undefined {
  try {
    return write(response, answer);
  } catch (error) {
    const instead = failure(error);
    if (response.headersSent) return void response.destroy();
    try {
      return write(response, instead);
    } catch {
      return void response.destroy();
    }
  }
}

function write(response: ServerResponse, { status, headers, body }: RawAnswer): number {
  headers["content-length"] = String(Buffer.byteLength(body));
  response.writeHead(status, headers).end(body);
  return status;
}
