import type { IncomingMessage, ServerResponse } from "node:http";
import type { OAuthServer } from "../oauth/context.js";
import { introspectionEndpoint } from "../oauth/endpoints/introspect.js";
import { revocationEndpoint } from "../oauth/endpoints/revoke.js";
import { tokenEndpoint } from "../oauth/endpoints/token.js";
import { invalidRequest } from "../oauth/errors.js";
import type { OAuthRequest, OAuthResponse } from "../oauth/request.js";
import { containsNul } from "../oauth/text.js";
import { parseForm } from "./form.js";
import { JSON_TYPE, oauthErrorAnswer, oauthRequestOf } from "./oauth-endpoints.js";
import { writeAnswer, type RawAnswer } from "./raw-answer.js";

type Endpoint = (server: OAuthServer, request: OAuthRequest) => Promise<OAuthResponse>;

/** The endpoints machine clients and resource servers call at a high rate; they answer JSON or nothing. */
const ENDPOINTS = new Map<string, Endpoint>([
  ["/oauth2/token", tokenEndpoint],
  ["/oauth2/introspect", introspectionEndpoint],
  ["/oauth2/revoke", revocationEndpoint],
]);

const FORM_TYPE = "application/x-www-form-urlencoded";
const NO_PARAMS = Object.freeze({});

/**
 * The hot path of the token, introspection and revocation endpoints, in front of Fastify (issue 10). It
 * takes a request only when all of the following hold:
 * - it is a POST to exactly `/oauth2/token`, `/oauth2/introspect` or `/oauth2/revoke`, with no query;
 * - its Content-Type is exactly `application/x-www-form-urlencoded` (no parameters, lower case);
 * - it declares its length (Content-Length, no Transfer-Encoding), more than 0 and at most the body limit.
 * Everything else goes to Fastify untouched (nothing read but the request line and headers), and so do
 * the Integration Server names (/invoke/pub.oauth/*). Node's parser has checked the framing: the body that
 * arrives is exactly Content-Length bytes, or the connection ends and there is nothing to answer.
 *
 * A request it takes runs exactly as on Fastify's route (src/http/oauth-endpoints.ts): the same OAuth
 * request (oauthRequestOf), the same NUL check, the same endpoint, the same answer and the same errors
 * (oauthErrorAnswer), the same count in the metrics; and, as every answer of Fastify's routes is
 * (coalesceAnswers in app.ts), its answer is written once the event loop's I/O phase is over. What it
 * leaves out is Fastify's per-request machinery (request and reply objects, routing, the content-type
 * parser, hooks).
 */
export class FastOAuth {
  /** Set when the server starts closing: from then on Fastify answers (503, as return503OnClosing). */
  closing = false;
  /** Requests this path has taken (tests check that it is used, and that it is not). */
  taken = 0;

  constructor(
    private readonly server: OAuthServer,
    private readonly bodyLimit: number,
    private readonly countResponse: (status: number) => void,
  ) {}

  /** True when this path has taken the request and will answer it; false to hand it to Fastify. */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== "POST" || this.closing) return false;
    const path = request.url;
    const endpoint = path === undefined ? undefined : ENDPOINTS.get(path);
    if (endpoint === undefined) return false;
    const headers = request.headers;
    const declared = headers["content-length"];
    if (
      headers["content-type"] !== FORM_TYPE ||
      declared === undefined ||
      headers["transfer-encoding"] !== undefined
    )
      return false;
    // Node's parser accepts only digits here.
    const length = Number(declared);
    if (!(length > 0 && length <= this.bodyLimit)) return false;
    this.taken++;
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    // A connection that ends before the body does has no one to answer; Node destroys the socket.
    request.on("error", () => {});
    request.on("end", () => {
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString("utf8");
      this.run(request, response, path!, endpoint, text);
    });
    return true;
  }

  private run(
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    endpoint: Endpoint,
    text: string,
  ): void {
    let answer: Promise<OAuthResponse>;
    try {
      const body = parseForm(text);
      const oauthRequest = oauthRequestOf(request, {
        method: "POST",
        path,
        query: NO_PARAMS,
        body,
        jsonBody: undefined,
        bodyType: "form",
        mergeQuery: false,
      });
      if (containsNul([body])) throw invalidRequest("parameters must not contain NUL characters");
      answer = endpoint(this.server, oauthRequest);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (result) => {
        let made: RawAnswer;
        try {
          made = answerOf(result);
        } catch (error) {
          made = oauthErrorAnswer(this.server, error, path);
        }
        setImmediate(() => this.send(response, path, made));
      },
      (error: unknown) => {
        const made = oauthErrorAnswer(this.server, error, path);
        setImmediate(() => this.send(response, path, made));
      },
    );
  }

  private send(response: ServerResponse, path: string, answer: RawAnswer): void {
    const status = writeAnswer(response, answer, (error) => oauthErrorAnswer(this.server, error, path));
    if (status !== undefined) this.countResponse(status);
  }
}

/**
 * An endpoint's answer as Fastify's route sends it (send in oauth-endpoints.ts): header names in lower
 * case (Fastify's reply lowers them), JSON with its media type, or an empty body.
 */
function answerOf(response: OAuthResponse): RawAnswer {
  const headers: Record<string, string> = {};
  for (const name in response.headers) headers[name.toLowerCase()] = response.headers[name]!;
  switch (response.kind) {
    case "json":
      headers["content-type"] = JSON_TYPE;
      return { status: response.status, headers, body: JSON.stringify(response.body) };
    case "empty":
      return { status: response.status, headers, body: "" };
    default:
      // These endpoints never answer a page or a redirect.
      throw new TypeError(`the ${response.kind} answer of an OAuth endpoint on the fast path`);
  }
}
