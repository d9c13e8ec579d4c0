import type { IncomingMessage, ServerResponse } from "node:http";
import { TLSSocket } from "node:tls";
import type { Conduit } from "../conduit.js";
import type { Logger } from "../kernel/logger.js";
import type { Principal } from "../security/principal.js";
import { isPromise } from "../services/runtime.js";
import type { Pipeline, ResponseControl } from "../services/types.js";
import { errorAnswer } from "./errors.js";
import { HttpTransport, JSON_TYPE, outputJson, serviceNameFromPath } from "./invoke.js";
import { writeAnswer, type RawAnswer } from "./raw-answer.js";
import { peerCertificate } from "./tls.js";

/**
 * `GET /invoke/{folder}/{service}` with no query and nothing to decode: only the characters of service
 * names and the separators, at most Fastify's maxParamLength (1024) after the prefix. Anything else takes
 * Fastify's route, which decodes and parses.
 */
const PLAIN_INVOKE = /^\/invoke\/[\w.:/-]{0,1024}$/;

/** The route Fastify would name in the log for these requests. */
const ROUTE = "/invoke/*";

/**
 * The hot path of `/invoke`, in front of Fastify (issue 10). It takes a request only when all of the
 * following hold:
 * - it is a plain GET (PLAIN_INVOKE): no query string, no percent-encoding, no body headers;
 * - it carries an Authorization header (of two, the first counts, as on Fastify's route);
 * - the authentication chain recognises those credentials from memory (`AuthenticationChain.cached`): a
 *   Basic password or a bearer token this keep-alive connection proved before and that is still current.
 *   That memory is forgotten on every change to tokens, clients, users or settings, so a revocation, a
 *   disabled client or a deleted user fails this check and the request goes to Fastify.
 * Everything else goes to Fastify untouched (nothing read but the request line and raw headers).
 *
 * A request it takes runs exactly as on Fastify's route: the same runtime call (the token's scopes and the
 * ACL are checked there on every request), the same JSON, the same errors (toErrorResponse) and the same
 * count in the metrics. What it leaves out is Fastify's per-request machinery (request and reply objects,
 * routing, hooks), about a quarter of the CPU of such a request.
 */
export class FastInvoke {
  /** Set when the server starts closing: from then on Fastify answers (503, as return503OnClosing). */
  closing = false;
  /** Requests this path has taken (tests check that it is used, and that it is not). */
  taken = 0;

  constructor(
    private readonly conduit: Conduit,
    private readonly log: Logger,
    private readonly countResponse: (status: number) => void,
  ) {}

  /** True when this path has taken the request and will answer it; false to hand it to Fastify. */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const url = request.url;
    if (request.method !== "GET" || this.closing || url === undefined || !PLAIN_INVOKE.test(url))
      return false;
    // Node has built request.headers already (it checks Host and Expect there before this runs). Of two
    // Authorization headers it keeps the first, as Fastify's route then would.
    const headers = request.headers;
    const authorization = headers.authorization;
    // A request that declares a body (Fastify reads and refuses those) goes to Fastify.
    if (
      authorization === undefined ||
      headers["content-length"] !== undefined ||
      headers["transfer-encoding"] !== undefined
    )
      return false;
    const socket = request.socket;
    const principal = this.conduit.auth.cached({
      authorization,
      ip: socket.remoteAddress ?? "",
      connection: socket,
      tls: socket instanceof TLSSocket,
      clientCertificate: peerCertificate(socket),
    });
    if (!principal) return false;
    this.taken++;
    this.run(request, response, url, principal);
    return true;
  }

  /** Runs the service and answers; at once when the runtime answers at once, else when it settles. */
  private run(request: IncomingMessage, response: ServerResponse, url: string, principal: Principal): void {
    const control: ResponseControl = { headers: {} };
    let output: Pipeline | Promise<Pipeline>;
    try {
      output = this.conduit.runtime.invokeNow(
        serviceNameFromPath(url.slice(8)),
        {},
        {
          principal,
          transport: new HttpTransport(new RawSource(request)),
          response: control,
        },
      );
    } catch (error) {
      return this.send(response, this.failure(error));
    }
    if (isPromise(output))
      output.then(
        (settled) => this.send(response, this.success(settled, control)),
        (error: unknown) => this.send(response, this.failure(error)),
      );
    else this.send(response, this.success(output, control));
  }

  /** The answer to an output, as Fastify's route makes it (or the failure to make one). */
  private success(output: Pipeline, control: ResponseControl): RawAnswer {
    try {
      const body = outputJson(output);
      const status = control.status || 200;
      // As on Fastify's route: a reply's header names are case-insensitive, and the type is always JSON.
      const headers: RawAnswer["headers"] = { "content-type": JSON_TYPE };
      for (const name in control.headers)
        if (name.toLowerCase() !== "content-type") headers[name.toLowerCase()] = control.headers[name]!;
      // Fastify refuses a status outside 100-599 (a 500), Node only outside 100-999.
      if (status < 100 || status > 599) throw new RangeError(`invalid status code ${status}`);
      return { status, headers, body };
    } catch (error) {
      return this.failure(error);
    }
  }

  private send(response: ServerResponse, answer: RawAnswer): void {
    const status = writeAnswer(response, answer, (error) => this.failure(error));
    if (status !== undefined) this.countResponse(status);
  }

  private failure(error: unknown): RawAnswer {
    const { status, body, headers } = errorAnswer(this.log, error, ROUTE);
    return { status, body: JSON.stringify(body), headers: { ...headers, "content-type": JSON_TYPE } };
  }
}

/** The request as the service's transport reads it; its headers are only built if a service asks. */
class RawSource {
  constructor(private readonly request: IncomingMessage) {}
  readonly method = "GET";
  get ip(): string | undefined {
    return this.request.socket.remoteAddress;
  }
  get url(): string {
    return this.request.url ?? "";
  }
  get headers(): Record<string, string | string[] | undefined> {
    return this.request.headers;
  }
}
